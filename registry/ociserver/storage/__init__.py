"""Where blob bytes live: one small async interface, a filesystem and an S3 implementation."""

from registry.ociserver.storage.base import BlobBackend
from registry.ociserver.storage.filesystem import FilesystemBackend

__all__ = ["BlobBackend", "FilesystemBackend"]
