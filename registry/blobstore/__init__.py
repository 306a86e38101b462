"""Content-addressed blob files: verifying writers, atomic commit, resumable partial files."""

from registry.blobstore.layout import StoreLayout
from registry.blobstore.partial import PartialBlob
from registry.blobstore.store import BlobStore
from registry.blobstore.writer import BlobWriter, LinkedBlob, StagedBlob

__all__ = ["BlobStore", "BlobWriter", "LinkedBlob", "PartialBlob", "StagedBlob", "StoreLayout"]
