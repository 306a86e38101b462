"""The web page's queries: repository names filtered by the caller's rights, paged, then the tags,
sizes and facts of what is on the page.

Cost for a registry of ``R`` repositories: one name query (as ``/v2/_catalog``), one predicate call
per name (who may pull it), and one query for the tags of the page's repositories only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from registry.oci.digest import Digest
from registry.ociserver.store import RegistryStore
from registry.ociserver.web.facts import FactReader
from registry.ociserver.web.summaries import (
    MirrorPage,
    ModelDetail,
    ModelFacts,
    RepoPage,
    TagInfo,
    blobs_of,
    summarize,
)
from registry.store.catalog import RegistryBrowseQueries, RegistryCatalog, TaggedManifest

__all__ = ["PER_PAGE", "ModelBrowser"]

#: Repositories per page unless the request asks otherwise (at most ``MAX_PER_PAGE``).
PER_PAGE = 50
MAX_PER_PAGE = 200
#: Search queries longer than this are cut (no repository name is longer than 256).
_MAX_QUERY = 256

Visible = Callable[[str], bool]


class ModelBrowser:
    """Read-only views of one registry store for the web page."""

    def __init__(self, store: RegistryStore, upstream: str | None) -> None:
        self._store = store
        self.upstream = upstream
        self._facts = FactReader(store.backend)

    async def models(
        self, visible: Visible, query: str = "", page: int = 1, per_page: int = PER_PAGE
    ) -> RepoPage:
        """The repositories ``visible`` lets through whose name contains ``query`` (case-insensitive),
        sorted by name, page ``page`` (1-based, clamped into range) of ``per_page``."""
        query = query.strip()[:_MAX_QUERY]
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        needle = query.lower()
        names = await self._store.read(RegistryCatalog.repositories)
        shown = [n for n in names if (not needle or needle in n.lower()) and visible(n)]
        pages = max(1, -(-len(shown) // per_page))
        page = min(max(page, 1), pages)
        on_page = shown[(page - 1) * per_page : page * per_page]
        rows = await self._store.read(lambda c: RegistryBrowseQueries.tagged_manifests(c, on_page))
        by_repo = _tags_by_repo(rows)
        repos = tuple(summarize(name, tuple(by_repo.get(name, ()))) for name in on_page)
        return RepoPage(repos, len(shown), page, pages, per_page, query)

    async def model(self, name: str, visible: Visible, tag: str | None = None) -> ModelDetail | None:
        """A model page: every tag; facts and text layers of ``tag`` (default ``latest``, else the
        newest push). None when the repository does not exist or ``visible`` hides it."""
        if not visible(name):
            return None

        def read(conn: Any) -> tuple[list[TaggedManifest], bool]:
            rows = RegistryBrowseQueries.tagged_manifests(conn, [name])
            return rows, bool(rows) or RegistryCatalog.repo_exists(conn, name)

        rows, exists = await self._store.read(read)
        if not exists:
            return None
        tags = tuple(_tags_by_repo(rows).get(name, ()))
        selected = _select(tags, tag)
        if selected is None:
            return ModelDetail(name, tags, None, ModelFacts(), ())
        facts = await self._facts.facts(selected.blobs)
        texts = await self._facts.texts(selected.blobs)
        return ModelDetail(name, tags, selected, facts, texts)

    async def mirror(
        self, visible: Visible, query: str = "", page: int = 1, per_page: int = PER_PAGE
    ) -> MirrorPage:
        """The mirror view: cached repositories, each tag with its last refresh and how many of its
        bytes are cached here. Raises ``ValueError`` on a registry that is not a mirror."""
        if self.upstream is None:
            raise ValueError("this registry is not a mirror")
        listing = await self.models(visible, query, page, per_page)

        def cached(conn: Any) -> dict[str, set[Digest]]:
            out = {}
            for repo in listing.repos:
                wanted = {Digest.parse_oci(b.digest) for t in repo.tags for b in t.blobs}
                out[repo.name] = RegistryCatalog.linked_digests(conn, repo.name, wanted)
            return out

        linked = await self._store.read(cached)
        repos = []
        for repo in listing.repos:
            here = {str(d) for d in linked.get(repo.name, set())}
            tags = tuple(_with_cached(t, sum(b.size for b in t.blobs if b.digest in here)) for t in repo.tags)
            repos.append(summarize(repo.name, tags))
        page_ = RepoPage(
            tuple(repos), listing.total, listing.page, listing.pages, listing.per_page, listing.query
        )
        return MirrorPage(self.upstream, page_)


def _tags_by_repo(rows: Sequence[TaggedManifest]) -> dict[str, list[TagInfo]]:
    out: dict[str, list[TagInfo]] = {}
    for row in rows:
        blobs = blobs_of(row.content, row.media_type)
        info = TagInfo(
            row.tag,
            str(row.digest),
            sum(b.size for b in blobs),
            row.pushed_at,
            row.validated_at,
            blobs,
        )
        out.setdefault(row.repo, []).append(info)
    return out


def _select(tags: Sequence[TagInfo], wanted: str | None) -> TagInfo | None:
    by_name = {t.tag: t for t in tags}
    if wanted is not None:
        return by_name.get(wanted)
    if "latest" in by_name:
        return by_name["latest"]
    return max(tags, key=lambda t: t.pushed_at, default=None)


def _with_cached(tag: TagInfo, cached: int) -> TagInfo:
    return TagInfo(tag.tag, tag.digest, tag.size, tag.pushed_at, tag.refreshed_at, tag.blobs, cached)
