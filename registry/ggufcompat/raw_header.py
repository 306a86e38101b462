"""A GGUF header read and written losslessly: every key with its exact type, every tensor info.

:mod:`registry.ggufmeta.reader` reads a header for display and skips long arrays; translating a
file needs all of it, byte for byte, so this module keeps each value in its wire form: scalars as
Python values with their GGUF type, strings as ``bytes``, arrays of numbers as their packed little-
endian bytes and arrays of strings as a list of ``bytes``. :func:`serialize_header` writes the
same layout back (GGUF version 3), so a header read and re-serialized is identical to the original
up to the data section's start.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from registry.errors import InvalidWeights

__all__ = [
    "ARRAY",
    "SCALAR_FORMATS",
    "STRING",
    "RawArray",
    "RawHeader",
    "RawKv",
    "RawTensor",
    "read_raw_header",
    "serialize_header",
    "serialize_kvs",
    "serialize_tensors",
    "tensor_nbytes",
]

STRING, ARRAY = 8, 9
#: GGUF value type -> struct format for the scalar types.
SCALAR_FORMATS = {
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
_MAX_STRING = 1 << 30
_MAX_HEADER = 1 << 31


@dataclass(frozen=True, slots=True)
class RawArray:
    """An array value: ``items`` is a list of ``bytes`` for strings, else the packed elements."""

    item_type: int
    count: int
    items: bytes | tuple[bytes, ...]

    def strings(self) -> tuple[bytes, ...]:
        """The elements of a string array (an empty tuple for a numeric one)."""
        return self.items if isinstance(self.items, tuple) else ()

    def numbers(self) -> tuple[int | float | bool, ...]:
        """The elements of a numeric array, decoded (an empty tuple for a string array)."""
        if isinstance(self.items, tuple):
            return ()
        fmt = SCALAR_FORMATS[self.item_type]
        return tuple(v[0] for v in struct.iter_unpack(fmt, self.items))


@dataclass(frozen=True, slots=True)
class RawKv:
    """One key: its GGUF value type and the value (bytes for a string, :class:`RawArray`)."""

    key: str
    vtype: int
    value: int | float | bool | bytes | RawArray


@dataclass(frozen=True, slots=True)
class RawTensor:
    """One tensor info: name, shape (ggml order, innermost first), ggml type, data offset."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int


@dataclass(frozen=True, slots=True)
class RawHeader:
    """A whole GGUF header; ``data_offset`` is where the tensor data section starts in the file."""

    version: int
    kvs: tuple[RawKv, ...]
    tensors: tuple[RawTensor, ...]
    alignment: int
    data_offset: int
    file_size: int


def tensor_nbytes(shape: tuple[int, ...], ggml_type: int) -> int:
    """The bytes a tensor of ``shape`` and ``ggml_type`` occupies.

    Raises:
        InvalidWeights: an unknown ggml type.
    """
    import gguf

    try:
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise InvalidWeights(f"unknown tensor type {ggml_type}") from None
    n = 1
    for dim in shape:
        n *= dim
    return n // block * type_size


class _Reader:
    def __init__(self, buf: mmap.mmap, label: str) -> None:
        self.buf, self.pos, self.label = buf, 0, label

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise InvalidWeights(
                f"{self.label}: truncated GGUF file (the header ends early, at byte {self.pos})"
            )
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return raw

    def unpack(self, fmt: str) -> int | float | bool:
        value: int | float | bool = struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        return value

    def u32(self) -> int:
        return int(self.unpack("<I"))

    def u64(self) -> int:
        return int(self.unpack("<Q"))

    def string(self) -> bytes:
        n = self.u64()
        if n > _MAX_STRING:
            raise InvalidWeights(f"{self.label}: invalid GGUF file: a {n}-byte string")
        return self.take(n)

    def strings(self, count: int) -> tuple[bytes, ...]:
        """``count`` length-prefixed strings (a tokenizer's vocabulary: one tight loop)."""
        buf, pos, end, out = self.buf, self.pos, len(self.buf), []
        from_bytes = int.from_bytes
        for _ in range(count):
            n = from_bytes(buf[pos : pos + 8], "little")
            start, pos = pos + 8, pos + 8 + n
            if pos > end or n > _MAX_STRING:
                self.pos = start - 8
                raise InvalidWeights(
                    f"{self.label}: truncated GGUF file (the header ends early, at byte {self.pos})"
                )
            out.append(buf[start:pos])
        self.pos = pos
        return tuple(out)

    def value(self, vtype: int, key: str) -> int | float | bool | bytes | RawArray:
        if vtype in SCALAR_FORMATS:
            return self.unpack(SCALAR_FORMATS[vtype])
        if vtype == STRING:
            return self.string()
        if vtype != ARRAY:
            raise InvalidWeights(f"{self.label}: invalid GGUF file: key {key!r} has unknown type {vtype}")
        item_type, count = self.u32(), self.u64()
        if item_type == STRING:
            return RawArray(item_type, count, self.strings(count))
        if item_type not in SCALAR_FORMATS:
            raise InvalidWeights(
                f"{self.label}: invalid GGUF file: key {key!r} has arrays of type {item_type}"
            )
        return RawArray(item_type, count, self.take(struct.calcsize(SCALAR_FORMATS[item_type]) * count))


def read_raw_header(path: Path, label: str | None = None) -> RawHeader:
    """Read the whole header of the GGUF file at ``path``.

    Raises:
        InvalidWeights: not a GGUF file, an unsupported version, a truncated or malformed header.
        OSError: the file cannot be read.
    """
    label = label or str(path)
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 24:
            raise InvalidWeights(f"{label}: not a GGUF file (only {size} bytes)")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            r = _Reader(buf, label)
            if r.take(4) != b"GGUF":
                raise InvalidWeights(f"{label}: not a GGUF file (it does not start with the GGUF magic)")
            version = r.u32()
            if version not in (2, 3):
                raise InvalidWeights(f"{label}: unsupported GGUF version {version} (expected 2 or 3)")
            n_tensors, n_kv = r.u64(), r.u64()
            if n_kv > 1 << 20 or n_tensors > 1 << 24:
                raise InvalidWeights(f"{label}: invalid GGUF file: {n_kv} keys, {n_tensors} tensors")
            kvs = []
            for _ in range(n_kv):
                key = r.string().decode("utf-8", errors="replace")
                vtype = r.u32()
                kvs.append(RawKv(key, vtype, r.value(vtype, key)))
            tensors = []
            for _ in range(n_tensors):
                name = r.string().decode("utf-8", errors="replace")
                n_dims = r.u32()
                if n_dims > 8:
                    raise InvalidWeights(f"{label}: invalid GGUF file: tensor {name!r} has {n_dims} dims")
                shape = tuple(r.u64() for _ in range(n_dims))
                tensors.append(RawTensor(name, shape, r.u32(), r.u64()))
            end = r.pos
    values = [kv.value for kv in kvs if kv.key == "general.alignment" and isinstance(kv.value, int)]
    alignment = int(values[0]) if values else 32
    alignment = alignment if alignment > 0 else 32
    return RawHeader(version, tuple(kvs), tuple(tensors), alignment, -(-end // alignment) * alignment, size)


def _pack_string(raw: bytes) -> bytes:
    return struct.pack("<Q", len(raw)) + raw


def _pack_value(vtype: int, value: int | float | bool | bytes | RawArray) -> bytes:
    if vtype in SCALAR_FORMATS:
        return struct.pack(SCALAR_FORMATS[vtype], value)
    if vtype == STRING:
        assert isinstance(value, bytes)
        return _pack_string(value)
    assert isinstance(value, RawArray)
    head = struct.pack("<IQ", value.item_type, value.count)
    if isinstance(value.items, tuple):
        return head + b"".join(_pack_string(s) for s in value.items)
    return head + value.items


def serialize_kvs(kvs: tuple[RawKv, ...]) -> bytes:
    """The key/value section of a GGUF header."""
    return b"".join(
        _pack_string(kv.key.encode()) + struct.pack("<I", kv.vtype) + _pack_value(kv.vtype, kv.value)
        for kv in kvs
    )


def serialize_tensors(tensors: tuple[RawTensor, ...]) -> bytes:
    """The tensor-info section of a GGUF header."""
    return b"".join(
        _pack_string(t.name.encode())
        + struct.pack("<I", len(t.shape))
        + b"".join(struct.pack("<Q", d) for d in t.shape)
        + struct.pack("<IQ", t.ggml_type, t.offset)
        for t in tensors
    )


def serialize_header(
    kvs: tuple[RawKv, ...],
    tensors: tuple[RawTensor, ...],
    *,
    kv_bytes: bytes | None = None,
    tensor_bytes: bytes | None = None,
) -> bytes:
    """The GGUF v3 header for ``kvs`` and ``tensors``, not padded (the caller aligns the data).
    ``kv_bytes``/``tensor_bytes`` pass sections already serialized (their counts still come from
    ``kvs`` and ``tensors``)."""
    out = b"".join(
        (
            b"GGUF",
            struct.pack("<IQQ", 3, len(tensors), len(kvs)),
            serialize_kvs(kvs) if kv_bytes is None else kv_bytes,
            serialize_tensors(tensors) if tensor_bytes is None else tensor_bytes,
        )
    )
    if len(out) > _MAX_HEADER:
        raise InvalidWeights("the translated GGUF header would exceed 2 GiB")
    return out
