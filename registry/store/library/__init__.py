"""The local model library: the blob store and the catalog kept consistent with each other."""

from registry.store.library.library import Library, PutResult, RemoveResult
from registry.store.library.model_info import ModelInfo
from registry.store.library.progress import Progress
from registry.store.library.rebuild import RebuildReport
from registry.store.library.verify import VerifyReport

__all__ = [
    "Library",
    "ModelInfo",
    "Progress",
    "PutResult",
    "RebuildReport",
    "RemoveResult",
    "VerifyReport",
]
