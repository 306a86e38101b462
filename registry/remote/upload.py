"""Upload of one blob to a registry: skip if present, mount if possible, monolithic or chunked.

Contract of :meth:`BlobUpload.run`:

- ``HEAD`` first: a blob the repository already has is not sent (returns False).
- With a ``mount_from`` repository on the same registry, ``POST ?mount=&from=`` first; 201 means
  the registry linked its copy (nothing sent).
- Blobs up to ``monolithic_limit`` go in one ``PUT ?digest=``; larger ones in ``PATCH`` chunks with
  ``Content-Range: <start>-<end>`` (in order, each to the latest Location) and a final ``PUT``.
- The upload Location is persisted under ``partials/<hex>.upload-<repo hash>.json`` after every
  chunk, so a push killed (even with SIGKILL) resumes in a new process: ``GET`` on the Location gives
  the ``Range`` the registry holds and the upload continues from there. A registry that lost the
  session (404) gets a fresh one. Failed requests (network errors, 5xx, 408, 429, and a session
  lost or moved: 404, 416) are retried with bounded backoff, re-asking the registry for its offset
  each time; any other 4xx (a mirror's 405) is final at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlencode, urljoin

from registry.errors import TransferError
from registry.oci.manifest import Descriptor
from registry.remote.client import RegistryClient
from registry.remote.ratelimit import RateLimiter
from registry.remote.transport import ProtocolError, raise_for_status
from registry.store.library import Library

__all__ = ["BlobUpload", "upload_range_end"]

_READ = 1 << 20


class BlobUpload:
    """Push one blob of ``library`` to ``client``'s repository. One use."""

    def __init__(
        self,
        client: RegistryClient,
        library: Library,
        descriptor: Descriptor,
        limiter: RateLimiter,
        on_progress: Callable[[int], None],
        mount_from: str | None = None,
    ) -> None:
        self.client = client
        self.library = library
        self.descriptor = descriptor
        self.options = client.transport.options
        self.limiter = limiter
        self.on_progress = on_progress
        self.mount_from = mount_from
        repo_key = hashlib.sha256(client.base.encode()).hexdigest()[:16]
        self.state_path = library.layout.partials_dir / f"{descriptor.digest.hex}.upload-{repo_key}.json"
        self.path: Path = library.blobs.path(descriptor.digest)

    async def run(self) -> bool:
        """Make the registry have the blob. Returns False when nothing had to be sent.

        Raises: TransferError (after bounded retries), Unauthorized, Denied, BlobNotFound (local).
        """
        self.path = await asyncio.to_thread(self.library.blob_path, self.descriptor.digest)
        if await self.client.blob_size(self.descriptor.digest) is not None:
            return False
        if self.mount_from and await self._mount():
            return False
        failures = 0
        while True:
            try:
                await self._upload()
                self.state_path.unlink(missing_ok=True)
                return True
            except ProtocolError:
                raise
            except TransferError as err:
                failures += 1
                if failures > self.options.max_retries:
                    raise TransferError(
                        f"pushing {self.descriptor.digest.short}: max retries exceeded: {err}"
                    ) from err
                await asyncio.sleep(
                    min(self.options.backoff_max, self.options.backoff_base * 2 ** (failures - 1))
                )

    async def _mount(self) -> bool:
        query = urlencode({"mount": str(self.descriptor.digest), "from": self.mount_from})
        url = f"{self.client.uploads_url}?{query}"
        async with self.client.transport.request("POST", url, scope=self.client.scope) as resp:
            await raise_for_status(resp, "mounting a blob")
            if resp.status == 201:
                return True
            location = resp.headers.get("Location")
        if location:  # the registry opened an upload instead: reuse it
            self._save(urljoin(url, location))
        return False

    async def _upload(self) -> None:
        location, offset = await self._resume()
        if location is None:
            location, offset = await self._start(), 0
        size = self.descriptor.size
        self.on_progress(offset)
        if offset == 0 and size <= self.options.monolithic_limit:
            await self._put(location, 0)
            return
        while offset < size:
            end = min(size, offset + self.options.upload_chunk)
            location = await self._patch(location, offset, end)
            offset = end
            self._save(location)
        await self._put(location, None)

    async def _resume(self) -> tuple[str | None, int]:
        """The saved Location and the offset the registry reports for it (None if unusable)."""
        try:
            location = json.loads(self.state_path.read_text())["location"]
        except (OSError, ValueError, KeyError, TypeError):
            return None, 0
        async with self.client.transport.request("GET", location, scope=self.client.scope) as resp:
            if resp.status in (404, 400, 416):
                self.state_path.unlink(missing_ok=True)
                return None, 0
            await raise_for_status(resp, "upload status")
            new_location = urljoin(location, resp.headers.get("Location", location))
            offset = upload_range_end(resp.headers.get("Range"))
        if not 0 <= offset <= self.descriptor.size:
            return None, 0
        return new_location, offset

    async def _start(self) -> str:
        async with self.client.transport.request(
            "POST", self.client.uploads_url, scope=self.client.scope
        ) as resp:
            await raise_for_status(resp, "starting an upload")
            location = resp.headers.get("Docker-Upload-Location") or resp.headers.get("Location")
        if not location:
            raise ProtocolError("starting an upload: the registry sent no Location")
        url = urljoin(self.client.uploads_url, location)
        self._save(url)
        return url

    async def _patch(self, location: str, start: int, end: int) -> str:
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{end - 1}",
            "Content-Length": str(end - start),
        }
        async with self.client.transport.request(
            "PATCH",
            location,
            scope=self.client.scope,
            headers=headers,
            body=lambda: self._body(start, end),
            follow_redirects=False,
        ) as resp:
            if resp.status >= 500 or resp.status in _RESUMABLE:
                raise TransferError(f"pushing {self.descriptor.digest.short}: {resp.status} {resp.reason}")
            await raise_for_status(resp, f"pushing {self.descriptor.digest.short}")
            new = resp.headers.get("Docker-Upload-Location") or resp.headers.get("Location") or location
        return urljoin(location, new)

    async def _put(self, location: str, start: int | None) -> None:
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}{urlencode({'digest': str(self.descriptor.digest)})}"
        size = self.descriptor.size
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size - (start or 0))}
        body = None
        if start is not None:
            begin = start

            def body() -> AsyncIterator[bytes]:
                return self._body(begin, size)
        else:
            headers["Content-Length"] = "0"
        async with self.client.transport.request(
            "PUT", url, scope=self.client.scope, headers=headers, body=body, follow_redirects=False
        ) as resp:
            if resp.status >= 500 or resp.status in _RESUMABLE:
                raise TransferError(f"pushing {self.descriptor.digest.short}: {resp.status} {resp.reason}")
            await raise_for_status(resp, f"pushing {self.descriptor.digest.short}")
        self.on_progress(size)

    async def _body(self, start: int, end: int) -> AsyncIterator[bytes]:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            offset = start
            while offset < end:
                data = os.pread(fd, min(_READ, end - offset), offset)
                if not data:
                    raise TransferError(
                        f"pushing {self.descriptor.digest.short}: the local blob is shorter than its size"
                    )
                await self.limiter.consume(len(data))
                yield data
                offset += len(data)
                self.on_progress(offset)
        finally:
            os.close(fd)

    def _save(self, location: str) -> None:
        tmp = self.state_path.with_name(f"{self.state_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"location": location}))
        tmp.replace(self.state_path)


#: Statuses of a PATCH or PUT to a session worth another try: 5xx, a timeout, too many requests,
#: and a session the registry lost (404) or whose offset moved (416): the retry asks for the offset
#: again and resumes or starts afresh. Any other 4xx is final (see ``RequestRefused``).
_RESUMABLE = frozenset({404, 408, 416, 429})


def upload_range_end(value: str | None) -> int:
    """``Range: 0-<n-1>`` -> n; missing or ``0-0`` with nothing uploaded -> 0."""
    if not value:
        return 0
    try:
        first, last = value.removeprefix("bytes=").split("-", 1)
        end = int(last) + 1
    except ValueError:
        return -1
    return 0 if end <= 1 and int(first) == 0 and last == "0" else end
