"""The registry's storage bundle: catalog database, blob backend and upload spool, opened together.

``RegistryStore.open`` is the one place that turns settings into storage objects (the CLI's
``registry gc`` and the server both use it). Catalog calls are synchronous SQLAlchemy; the async
helpers run them in worker threads so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from registry.ociserver.settings import ServerSettings
from registry.ociserver.uploads import UploadSpool
from registry.store.blobs.backend import BlobBackend
from registry.store.blobs.filesystem import FilesystemBackend
from registry.store.blobs.layout import StoreLayout
from registry.store.catalog import Database

__all__ = ["RegistryStore"]

_T = TypeVar("_T")


@dataclass
class RegistryStore:
    """Catalog + blob backend + upload spool for one registry root."""

    db: Database
    backend: BlobBackend
    spool: UploadSpool

    @classmethod
    def open(cls, settings: ServerSettings) -> RegistryStore:
        """Create the root's directories, migrate the catalog and connect the backend.

        Raises:
            CatalogError: the database cannot be opened or migrated.
            StoreError: the root cannot be created.
        """
        layout = StoreLayout(settings.root)
        settings.root.mkdir(parents=True, exist_ok=True)
        db = Database.for_store(settings.root, settings.database_url)
        backend: BlobBackend
        if settings.backend == "s3" and settings.s3 is not None:
            from registry.store.blobs.s3 import S3Backend

            backend = S3Backend(settings.s3)
        else:
            backend = FilesystemBackend(layout)
        spool = UploadSpool(settings.uploads_dir or settings.root / "uploads", settings.max_upload_bytes)
        return cls(db, backend, spool)

    async def read(self, fn: Callable[[Any], _T]) -> _T:
        """Run ``fn`` in a read transaction, in a worker thread."""

        def run() -> _T:
            with self.db.read() as conn:
                return fn(conn)

        return await asyncio.to_thread(run)

    async def write(self, fn: Callable[[Any], _T]) -> _T:
        """Run ``fn`` in a write transaction (the store-wide writer lock), in a worker thread."""
        return await asyncio.to_thread(self.db.run_write, fn)

    async def close(self) -> None:
        """Release the backend and the database pool."""
        await self.backend.close()
        self.db.dispose()
