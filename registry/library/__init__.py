"""The local model library: the blob store and the catalog kept consistent with each other."""

from registry.library.gc import GcReport
from registry.library.library import Library, PutResult, RemoveResult
from registry.library.model_info import ModelInfo
from registry.library.progress import Progress
from registry.library.rebuild import RebuildReport
from registry.library.verify import VerifyReport

__all__ = [
    "GcReport",
    "Library",
    "ModelInfo",
    "Progress",
    "PutResult",
    "RebuildReport",
    "RemoveResult",
    "VerifyReport",
]
