"""S3-compatible object storage (AWS S3, MinIO, moto) through boto3, called in worker threads.

Keys are ``<prefix>blobs/<algorithm>/<ab>/<hex>``, derived only from parsed digests. Uploads use boto3's
managed transfer (multipart for large files); the local file was verified before it gets here.
Blob GETs may be redirected to presigned URLs (``redirect=True``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import BlobNotFound, StoreError
from registry.oci.digest import ALGORITHMS, Digest

__all__ = ["S3Backend", "S3Settings"]


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where and how to reach the bucket."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    prefix: str = ""
    redirect: bool = False
    presign_seconds: int = 600
    create_bucket: bool = False


class S3Backend:
    """Blobs as objects in one bucket. Safe for many processes sharing the bucket."""

    name = "s3"

    def __init__(self, settings: S3Settings) -> None:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        self.settings = settings
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=32),
        )
        if settings.create_bucket:
            self._ensure_bucket()

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]

        try:
            self._client.head_bucket(Bucket=self.settings.bucket)
        except ClientError:
            self._client.create_bucket(Bucket=self.settings.bucket)

    def _key(self, digest: Digest) -> str:
        return f"{self.settings.prefix}blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}"

    async def stat(self, digest: Digest) -> int | None:
        """Object size, or None when absent."""
        return await asyncio.to_thread(self._stat_sync, digest)

    def _stat_sync(self, digest: Digest) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self._client.head_object(Bucket=self.settings.bucket, Key=self._key(digest))
        except ClientError as err:
            if _status(err) == 404:
                return None
            raise StoreError(f"object storage failed: {err}") from err
        return int(head["ContentLength"])

    async def put_file(self, digest: Digest, path: Path) -> None:
        """Upload the verified file, then delete it locally."""
        await asyncio.to_thread(self._put_sync, digest, path)

    def _put_sync(self, digest: Digest, path: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.upload_file(str(path), self.settings.bucket, self._key(digest))
        except (BotoCoreError, ClientError) as err:
            raise StoreError(f"object storage upload failed: {err}") from err
        path.unlink(missing_ok=True)

    async def warm(self, digest: Digest) -> None:
        """Nothing to do: the object store serves it."""

    async def delete(self, digest: Digest) -> bool:
        """Delete the object; True when it existed."""
        if await self.stat(digest) is None:
            return False
        await asyncio.to_thread(
            self._client.delete_object, Bucket=self.settings.bucket, Key=self._key(digest)
        )
        return True

    async def open_range(self, digest: Digest, start: int, end: int) -> AsyncIterator[bytes]:
        """Stream ``[start, end)`` with a ranged GET."""
        if end <= start:
            if await self.stat(digest) is None:
                raise BlobNotFound(f"blob {digest} not found")
            return
        body = await asyncio.to_thread(self._get_body, digest, start, end)
        try:
            while True:
                data = await asyncio.to_thread(body.read, 1 << 20)
                if not data:
                    break
                yield data
        finally:
            body.close()

    def _get_body(self, digest: Digest, start: int, end: int) -> Any:
        from botocore.exceptions import ClientError

        try:
            obj = self._client.get_object(
                Bucket=self.settings.bucket, Key=self._key(digest), Range=f"bytes={start}-{end - 1}"
            )
        except ClientError as err:
            if _status(err) in (404, 416):
                raise BlobNotFound(f"blob {digest} not found") from err
            raise StoreError(f"object storage failed: {err}") from err
        return obj["Body"]

    def local_path(self, digest: Digest) -> Path | None:
        """Objects are remote: None."""
        return None

    async def presigned_url(self, digest: Digest) -> str | None:
        """A presigned GET URL when redirects are enabled, else None."""
        if not self.settings.redirect:
            return None
        url: str = await asyncio.to_thread(
            self._client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.settings.bucket, "Key": self._key(digest)},
            ExpiresIn=self.settings.presign_seconds,
        )
        return url

    async def list_digests(self) -> list[Digest]:
        """Every object under ``<prefix>blobs/<algorithm>/`` with a digest name."""
        return await asyncio.to_thread(self._list_sync)

    def _list_sync(self) -> list[Digest]:
        found: list[Digest] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for algorithm in ALGORITHMS:
            prefix = f"{self.settings.prefix}blobs/{algorithm}/"
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    name = str(item["Key"]).rsplit("/", 1)[-1]
                    try:
                        found.append(Digest(name, algorithm))
                    except ValueError:
                        continue
        return found

    async def close(self) -> None:
        """Close the HTTP pool."""
        self._client.close()


def _status(err: Any) -> int:
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
