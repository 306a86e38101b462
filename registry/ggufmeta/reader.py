"""Read a GGUF file's header: key/values and tensor infos, without touching the tensor data.

``gguf.GGUFReader`` builds a numpy view per array element (12 s for Gemma 3's 262k-token vocab),
so this module walks the header itself with ``struct`` over an ``mmap``, using the ``gguf``
package's type tables (value types, quantization block sizes, file type names). Long arrays are
kept only as their length; everything else is decoded.

Files are read only; the reader is safe to run concurrently with anything but a writer of the
same file.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.errors import InvalidWeights

__all__ = ["ARRAY_KEEP", "GgufHeader", "TensorInfo", "read_gguf_header"]

#: Arrays with more elements than this are not decoded (only their length is kept).
ARRAY_KEEP = 64
_MAGIC = b"GGUF"
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_FLOAT32, _STRING, _ARRAY = 6, 8, 9
_MAX_STRING = 1 << 30


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor's name, shape, ggml type and byte range (relative to the data section)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int
    n_bytes: int

    @property
    def n_elements(self) -> int:
        """The product of the dimensions."""
        n = 1
        for dim in self.shape:
            n *= dim
        return n


@dataclass(frozen=True, slots=True)
class GgufHeader:
    """A parsed GGUF header. ``kv`` holds every key; arrays longer than :data:`ARRAY_KEEP` hold
    ``[]`` and their length is in ``array_lengths``."""

    path: Path
    version: int
    kv: dict[str, Any]
    array_lengths: dict[str, int]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    file_size: int
    tensor_types: Counter[int] = field(default_factory=Counter)

    @property
    def parameter_count(self) -> int:
        """The number of weights (sum of tensor elements), as Ollama counts them."""
        return sum(t.n_elements for t in self.tensors)


def _shortest_float32(value: float) -> float:
    """The shortest decimal that is the same float32 (what Go's JSON shows: 1e-06, not 9.99e-07)."""
    import numpy as np

    return float(str(np.float32(value))) if math.isfinite(value) else value


class _Cursor:
    """Bounds-checked little-endian reads from a buffer; a short read means a truncated file."""

    def __init__(self, buf: mmap.mmap | bytes, label: str, *, keep: int | None = ARRAY_KEEP) -> None:
        self.buf = buf
        self.pos = 0
        self.path = label
        self.keep = keep  # arrays longer than this keep only their length (None: every array whole)

    def truncated(self) -> InvalidWeights:
        return InvalidWeights(f"{self.path}: truncated GGUF file (the header ends early, at byte {self.pos})")

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise self.truncated()
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        if length > _MAX_STRING or self.pos + length > len(self.buf):
            raise self.truncated()
        raw = bytes(self.buf[self.pos : self.pos + length])
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        buf, pos, end = self.buf, self.pos, len(self.buf)
        for _ in range(count):
            if pos + 8 > end:
                self.pos = pos
                raise self.truncated()
            (length,) = struct.unpack_from("<Q", buf, pos)
            pos += 8 + length
        if pos > end:
            raise self.truncated()
        self.pos = pos

    def scalars(self, item_type: int, count: int) -> list[Any]:
        """A whole array of numbers or booleans, unpacked at once (float32 as Go shows them)."""
        code = _SCALARS[item_type]
        size = struct.calcsize(code) * count
        if self.pos + size > len(self.buf):
            raise self.truncated()
        values = list(struct.unpack_from(f"<{count}{code[1]}", self.buf, self.pos))
        self.pos += size
        if item_type == _FLOAT32:
            import numpy as np

            return [float(str(v)) if math.isfinite(v) else float(v) for v in np.array(values, np.float32)]
        return values

    def value(self, vtype: int, key: str, lengths: dict[str, int]) -> Any:
        if vtype == _FLOAT32:
            return _shortest_float32(self.unpack("<f"))
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype != _ARRAY:
            raise InvalidWeights(
                f"{self.path}: invalid GGUF file: key {key!r} has unknown value type {vtype}"
            )
        item_type, count = self.unpack("<I"), self.unpack("<Q")
        if item_type == _ARRAY:
            raise InvalidWeights(f"{self.path}: invalid GGUF file: nested array in key {key!r}")
        if self.keep is None and item_type in _SCALARS and count > ARRAY_KEEP:
            return self.scalars(item_type, count)
        if self.keep is not None and count > self.keep:
            lengths[key] = count
            if item_type == _STRING:
                self.skip_strings(count)
            elif item_type in _SCALARS:
                self.pos += struct.calcsize(_SCALARS[item_type]) * count
                if self.pos > len(self.buf):
                    raise self.truncated()
            else:
                raise InvalidWeights(f"{self.path}: invalid GGUF file: nested array in key {key!r}")
            return []
        return [self.value(item_type, key, lengths) for _ in range(count)]


def _tensor_bytes(path: str, name: str, shape: tuple[int, ...], ggml_type: int) -> int:
    import gguf

    try:
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise InvalidWeights(f"{path}: unknown tensor type {ggml_type} for tensor {name!r}") from None
    n = 1
    for dim in shape:
        n *= dim
    return n // block * type_size


def _parse(cur: _Cursor, path: Path, label: str, file_size: int) -> GgufHeader:
    """The header at the start of ``cur``'s buffer."""
    if bytes(cur.buf[:4]) != _MAGIC:
        raise InvalidWeights(f"{label}: not a GGUF file (it does not start with the GGUF magic)")
    cur.pos = 4
    version = cur.unpack("<I")
    if version not in (2, 3):
        raise InvalidWeights(f"{label}: unsupported GGUF version {version} (expected 2 or 3)")
    n_tensors, n_kv = cur.unpack("<Q"), cur.unpack("<Q")
    if n_kv > 1 << 20 or n_tensors > 1 << 24:
        raise InvalidWeights(
            f"{label}: invalid GGUF file: implausible counts ({n_kv} keys, {n_tensors} tensors)"
        )
    kv: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    for _ in range(n_kv):
        key = cur.string()
        kv[key] = cur.value(cur.unpack("<I"), key, lengths)
    tensors: list[TensorInfo] = []
    types: Counter[int] = Counter()
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.unpack("<I")
        if n_dims > 8:
            raise InvalidWeights(f"{label}: invalid GGUF file: tensor {name!r} has {n_dims} dimensions")
        shape = tuple(cur.unpack("<Q") for _ in range(n_dims))
        ggml_type, offset = cur.unpack("<I"), cur.unpack("<Q")
        tensors.append(
            TensorInfo(name, shape, ggml_type, offset, _tensor_bytes(label, name, shape, ggml_type))
        )
        types[ggml_type] += 1
    alignment = kv.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0:
        alignment = 32
    data_offset = -(-cur.pos // alignment) * alignment
    end = max((data_offset + t.offset + t.n_bytes for t in tensors), default=cur.pos)
    if end > file_size:
        raise InvalidWeights(
            f"{label}: truncated GGUF file: the tensors need {end} bytes but the file has {file_size}"
        )
    return GgufHeader(path, version, kv, lengths, tuple(tensors), data_offset, file_size, types)


def read_gguf_header(path: Path, label: str | None = None, *, whole_arrays: bool = False) -> GgufHeader:
    """Parse the header of the GGUF file at ``path`` and check that the file holds every tensor.
    Error messages start with ``label`` (default: the path). Arrays longer than :data:`ARRAY_KEEP`
    keep only their length unless ``whole_arrays`` (``show --verbose``: a 262k-token vocabulary is
    decoded, a fraction of a second).

    Raises:
        InvalidWeights: not a GGUF file, a truncated or malformed one, or one using an unknown
            tensor type; the message names the file.
        OSError: the file cannot be opened (missing, unreadable).
    """
    label = label or str(path)
    with open(path, "rb") as f:
        file_size = f.seek(0, 2)
        if file_size < 8:
            raise InvalidWeights(f"{label}: not a GGUF file (only {file_size} bytes)")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            cursor = _Cursor(buf, label, keep=None if whole_arrays else ARRAY_KEEP)
            return _parse(cursor, path, label, file_size)
