"""Read-only queries behind the registry's web page: tags with their manifests, for a few repositories.

The page lists repository names first (:meth:`RegistryCatalog.repositories`), filters and pages them,
and only then asks for the tags of the repositories on the page, so a registry of 10,000
repositories costs one name query plus one query for the page's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, select

from registry.oci.digest import Digest
from registry.store.catalog.registry_tables import reg_manifests, reg_tags

__all__ = ["RegistryBrowseQueries", "TaggedManifest"]

#: Repositories per ``IN (...)`` query (well under SQLite's bound-parameter limit).
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class TaggedManifest:
    """A tag, the manifest it points at (exact bytes) and its times (UNIX seconds)."""

    repo: str
    tag: str
    digest: Digest
    media_type: str
    content: bytes
    pushed_at: float
    updated_at: float
    validated_at: float


class RegistryBrowseQueries:
    """Stateless query namespace for the web page (a class only to group them)."""

    @staticmethod
    def tagged_manifests(conn: Connection, repos: Sequence[str]) -> list[TaggedManifest]:
        """Every tag of ``repos`` with its manifest, ordered by repository then tag."""
        out: list[TaggedManifest] = []
        wanted = sorted(set(repos))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            stmt = (
                select(
                    reg_tags.c.repo,
                    reg_tags.c.tag,
                    reg_tags.c.digest,
                    reg_manifests.c.media_type,
                    reg_manifests.c.content,
                    reg_manifests.c.pushed_at,
                    reg_tags.c.updated_at,
                    reg_tags.c.validated_at,
                )
                .join(
                    reg_manifests,
                    and_(
                        reg_manifests.c.repo == reg_tags.c.repo, reg_manifests.c.digest == reg_tags.c.digest
                    ),
                )
                .where(reg_tags.c.repo.in_(chunk))
            )
            out.extend(
                TaggedManifest(
                    str(r[0]),
                    str(r[1]),
                    Digest.parse_oci(r[2]),
                    str(r[3]),
                    bytes(r[4]),
                    float(r[5]),
                    float(r[6]),
                    float(r[7]),
                )
                for r in conn.execute(stmt).all()
            )
        out.sort(key=lambda t: (t.repo, t.tag))
        return out
