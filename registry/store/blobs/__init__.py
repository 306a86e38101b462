"""Content-addressed blob bytes: the store contract (``backend``) with its filesystem (``local`` +
``filesystem``) and S3 (``s3``) drivers, the verifying writers (``writer``, ``partial``) and their
hashing fast paths (``hashing``, ``appender``)."""

from registry.store.blobs.layout import StoreLayout
from registry.store.blobs.local import BlobStore
from registry.store.blobs.partial import PartialBlob
from registry.store.blobs.writer import BlobWriter, LinkedBlob, StagedBlob

__all__ = ["BlobStore", "BlobWriter", "LinkedBlob", "PartialBlob", "StagedBlob", "StoreLayout"]
