"""Content-addressed blob files: verifying writers, atomic commit, resumable partial files."""

from registry.store.blobs.layout import StoreLayout
from registry.store.blobs.local import BlobStore
from registry.store.blobs.partial import PartialBlob
from registry.store.blobs.writer import BlobWriter, LinkedBlob, StagedBlob

__all__ = ["BlobStore", "BlobWriter", "LinkedBlob", "PartialBlob", "StagedBlob", "StoreLayout"]
