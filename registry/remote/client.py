"""One repository on one registry: URLs, scopes, manifests, blob existence, small blobs (configs).

Speaks the OCI Distribution API and the Ollama registry's dialect: the Accept header lists the Docker
v2 manifest type first (the only one Ollama's registry serves), manifests answered as
``text/plain`` are accepted, and blob GETs may be a 307 to a CDN or a plain 200.
"""

from __future__ import annotations

from registry.errors import InvalidName, ModelNotFound, Unsupported
from registry.oci import mediatypes
from registry.oci.digest import Digest, sha256_of
from registry.oci.manifest import MAX_MANIFEST_BYTES, Manifest
from registry.oci.name import ModelName
from registry.remote.transport import Transport, converted_errors, raise_for_status

__all__ = ["MANIFEST_ACCEPT", "RegistryClient"]

MANIFEST_ACCEPT = ", ".join(mediatypes.ACCEPTED_MANIFEST_TYPES)


class RegistryClient:
    """Requests about ``name``'s repository on ``name``'s registry."""

    def __init__(
        self, transport: Transport, name: ModelName, *, push: bool = False, endpoint: str | None = None
    ) -> None:
        """``endpoint`` (``scheme://host[:port]``, a mirror) replaces ``name``'s scheme and host."""
        scheme = name.scheme
        if endpoint is None:
            if transport.options.insecure:
                scheme = "http"
            elif scheme == "http":
                raise InvalidName(
                    "insecure protocol http: use --insecure (insecure: true) for plain http registries"
                )
            endpoint = f"{scheme}://{name.host}"
        self.transport = transport
        self.name = name
        self.base = f"{endpoint}/v2/{name.repository}"
        self.scope = f"repository:{name.repository}:{'pull,push' if push else 'pull'}"

    def blob_url(self, digest: Digest) -> str:
        """``/v2/<repo>/blobs/<digest>``."""
        return f"{self.base}/blobs/{digest}"

    @property
    def uploads_url(self) -> str:
        """``/v2/<repo>/blobs/uploads/``."""
        return f"{self.base}/blobs/uploads/"

    def manifest_url(self, reference: str) -> str:
        """``/v2/<repo>/manifests/<tag or digest>``."""
        return f"{self.base}/manifests/{reference}"

    @property
    def reference(self) -> str:
        """The tag, or the digest when the name pins one."""
        return str(self.name.digest) if self.name.digest else self.name.tag

    async def get_manifest(self) -> Manifest:
        """Fetch and parse the manifest; its exact bytes are kept.

        Raises:
            ModelNotFound: 404 ("pull model manifest: file does not exist", as Ollama says).
            Unsupported: the registry sent an index (multi-platform list).
            InvalidManifest / TransferError / Unauthorized.
        """
        url = self.manifest_url(self.reference)
        async with self.transport.request(
            "GET", url, scope=self.scope, headers={"Accept": MANIFEST_ACCEPT}
        ) as resp:
            if resp.status == 404:
                raise ModelNotFound("pull model manifest: file does not exist")
            await raise_for_status(resp, "pull model manifest")
            async with converted_errors("pull model manifest"):
                raw = await resp.content.read(MAX_MANIFEST_BYTES + 1)
            content_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        manifest = Manifest.parse(raw, content_type)
        if self.name.digest is not None and manifest.digest != self.name.digest:
            raise ModelNotFound(
                f"pull model manifest: registry sent {manifest.digest}, not {self.name.digest}"
            )
        if manifest.is_index:
            raise Unsupported(
                f"{self.name.display_shortest} is a multi-platform index; pull one of its manifests"
            )
        return manifest

    async def blob_size(self, digest: Digest) -> int | None:
        """HEAD the blob: its size, or None when the registry does not have it (404)."""
        async with self.transport.request("HEAD", self.blob_url(digest), scope=self.scope) as resp:
            if resp.status == 404:
                return None
            await raise_for_status(resp, f"HEAD blob {digest.short}")
            length = resp.headers.get("Content-Length")
            return int(length) if length and length.isdigit() else None

    async def get_small_blob(self, digest: Digest, limit: int) -> bytes | None:
        """GET a blob of at most ``limit`` bytes (a config) into memory; None when the registry
        does not have it, when it is larger, or when its bytes do not hash to ``digest``.

        Raises:
            TransferError / Unauthorized: the request failed.
        """
        async with self.transport.request("GET", self.blob_url(digest), scope=self.scope) as resp:
            if resp.status == 404:
                return None
            await raise_for_status(resp, f"GET blob {digest.short}")
            async with converted_errors(f"GET blob {digest.short}"):
                data = await resp.content.read(limit + 1)
        if len(data) > limit or sha256_of(data) != digest:
            return None
        return data

    async def put_manifest(self, manifest: Manifest) -> None:
        """PUT the manifest's exact bytes under the tag (the digest stays what the library stored)."""
        raw = manifest.raw
        async with self.transport.request(
            "PUT",
            self.manifest_url(self.name.tag),
            scope=self.scope,
            headers={"Content-Type": manifest.media_type},
            body=lambda: raw,
        ) as resp:
            await raise_for_status(resp, "pushing manifest")
