"""A mutable working copy of a GGUF header that the per-architecture handlers edit.

The operations mirror the helpers of Ollama's compat shim (``llama-ollama-compat-util.cpp``):
copy a key if the destination is absent, inject a default if missing, mirror a key prefix under
another, truncate arrays, rename tensors, hide tensors from the text loader, shrink a tensor's
outer dimension. Nothing here touches tensor data; :mod:`registry.ggufcompat.rewrite` lays the
surviving tensors out again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from registry.ggufcompat.raw_header import (
    ARRAY,
    SCALAR_FORMATS,
    STRING,
    RawArray,
    RawHeader,
    RawKv,
    tensor_nbytes,
)

__all__ = ["F32", "I32", "U8", "U32", "HeaderEdits", "KeptTensor"]

U8, U32, I32, F32, BOOL = 0, 4, 5, 6, 7


@dataclass(frozen=True, slots=True)
class KeptTensor:
    """A tensor of the translated file: its new name and shape, and where its bytes come from
    (``source_offset`` relative to the source file's data section)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    source_offset: int
    #: Further source ranges (offset, bytes) whose bytes follow this tensor's own, for a tensor
    #: fused from several (llama.cpp's ``ffn_up`` = gate then up, along the outermost dimension).
    appended: tuple[tuple[int, int], ...] = ()


class HeaderEdits:
    """The keys (in order) and tensors of one header, edited in place; :meth:`notes` says what
    changed, in words a user can read (``ollama-py show`` prints them)."""

    def __init__(self, header: RawHeader) -> None:
        self.header = header
        self._kvs: dict[str, RawKv] = {kv.key: kv for kv in header.kvs}
        self._tensors: dict[str, KeptTensor] = {
            t.name: KeptTensor(t.name, t.shape, t.ggml_type, t.offset) for t in header.tensors
        }
        self._notes: list[str] = []

    # ---- reads ---------------------------------------------------------------------------------

    @property
    def architecture(self) -> str:
        """``general.architecture`` ("" when absent)."""
        return self.string("general.architecture") or ""

    def has(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return key in self._kvs

    def string(self, key: str) -> str | None:
        """A string key's value; None when absent or not a string."""
        kv = self._kvs.get(key)
        if kv is None or kv.vtype != STRING or not isinstance(kv.value, bytes):
            return None
        return kv.value.decode("utf-8", errors="replace")

    def number(self, key: str) -> int | float | None:
        """A numeric scalar key's value; None when absent or not a number."""
        kv = self._kvs.get(key)
        if kv is None or kv.vtype not in SCALAR_FORMATS or isinstance(kv.value, (bytes, RawArray)):
            return None
        return kv.value

    def array(self, key: str) -> RawArray | None:
        """An array key's value; None when absent or not an array."""
        kv = self._kvs.get(key)
        return kv.value if kv is not None and isinstance(kv.value, RawArray) else None

    def token(self, index: int) -> str | None:
        """``tokenizer.ggml.tokens[index]``; None when out of range or absent."""
        tokens = self.array("tokenizer.ggml.tokens")
        items = tokens.strings() if tokens else ()
        return items[index].decode("utf-8", errors="replace") if 0 <= index < len(items) else None

    def tensor(self, name: str) -> KeptTensor | None:
        """The tensor now called ``name``."""
        return self._tensors.get(name)

    def tensor_names(self) -> list[str]:
        """The names of the tensors the translated file keeps."""
        return list(self._tensors)

    def any_tensor_with_prefix(self, prefix: str) -> bool:
        """Whether a kept tensor's name starts with ``prefix``."""
        return any(name.startswith(prefix) for name in self._tensors)

    # ---- keys ----------------------------------------------------------------------------------

    def _put(self, kv: RawKv) -> None:
        self._kvs[kv.key] = kv

    def set_string(self, key: str, value: str) -> None:
        """Set ``key`` to the string ``value``."""
        self._put(RawKv(key, STRING, value.encode()))

    def set_u32(self, key: str, value: int) -> None:
        """Set ``key`` to the uint32 ``value``."""
        self._put(RawKv(key, U32, int(value)))

    def set_f32(self, key: str, value: float) -> None:
        """Set ``key`` to the float32 ``value``."""
        self._put(RawKv(key, F32, float(value)))

    def set_bool(self, key: str, value: bool) -> None:
        """Set ``key`` to the boolean ``value``."""
        self._put(RawKv(key, BOOL, bool(value)))

    def set_f32_array(self, key: str, values: tuple[float, ...]) -> None:
        """Set ``key`` to a float32 array."""
        self._put(RawKv(key, ARRAY, RawArray(F32, len(values), struct.pack(f"<{len(values)}f", *values))))

    def set_i32_array(self, key: str, values: list[int]) -> None:
        """Set ``key`` to an int32 array."""
        self._put(RawKv(key, ARRAY, RawArray(I32, len(values), struct.pack(f"<{len(values)}i", *values))))

    def set_u8_array(self, key: str, data: bytes) -> None:
        """Set ``key`` to a uint8 array holding ``data``."""
        self._put(RawKv(key, ARRAY, RawArray(U8, len(data), bytes(data))))

    def inject_f32(self, key: str, value: float) -> None:
        """Set a float32 ``key`` only when it is absent."""
        if not self.has(key):
            self.set_f32(key, value)

    def inject_u32(self, key: str, value: int) -> None:
        """Set a uint32 ``key`` only when it is absent."""
        if not self.has(key):
            self.set_u32(key, value)

    def inject_string(self, key: str, value: str) -> None:
        """Set a string ``key`` only when it is absent."""
        if not self.has(key):
            self.set_string(key, value)

    def copy_key(self, source: str, dest: str) -> None:
        """Copy ``source`` to ``dest`` (same type) unless ``dest`` exists or ``source`` does not."""
        kv = self._kvs.get(source)
        if kv is not None and dest not in self._kvs:
            self._put(replace(kv, key=dest))

    def remove_key(self, key: str) -> None:
        """Remove ``key`` if present."""
        self._kvs.pop(key, None)

    def mirror_prefix(self, old: str, new: str) -> None:
        """Copy every ``old*`` key to ``new*`` (existing ``new*`` keys win), as the shim's
        ``rename_kv_prefix`` does; the old keys stay (llama.cpp ignores them)."""
        for key in [k for k in self._kvs if k.startswith(old)]:
            self.copy_key(key, new + key[len(old) :])

    def truncate_array(self, key: str, count: int) -> None:
        """Keep only the first ``count`` elements of the array ``key``."""
        arr = self.array(key)
        if arr is None or count >= arr.count:
            return
        if isinstance(arr.items, tuple):
            items: bytes | tuple[bytes, ...] = arr.items[:count]
        else:
            items = arr.items[: struct.calcsize(SCALAR_FORMATS[arr.item_type]) * count]
        self._put(RawKv(key, ARRAY, RawArray(arr.item_type, count, items)))

    def collapse_array_to_max(self, key: str) -> None:
        """Replace an array of counts by one uint32: its largest element (a per-layer KV-head
        array that llama.cpp reads as a scalar)."""
        arr = self.array(key)
        if arr is None:
            return
        values = [int(v) for v in arr.numbers()]
        if values and max(values) > 0:
            self.set_u32(key, max(values))

    # ---- tensors -------------------------------------------------------------------------------

    def rename_tensor(self, old: str, new: str) -> None:
        """Rename the tensor ``old`` (nothing when it is absent or ``new`` exists)."""
        t = self._tensors.get(old)
        if t is None or new in self._tensors:
            return
        self._tensors = {
            (new if k == old else k): (replace(v, name=new) if k == old else v)
            for k, v in self._tensors.items()
        }

    def rename_tensors_containing(self, needle: str, replacement: str) -> None:
        """Replace the first ``needle`` in every tensor name that holds it."""
        for name in [n for n in self._tensors if needle in n]:
            self.rename_tensor(name, name.replace(needle, replacement, 1))

    def rename_tensors_ending(self, suffix: str, new_suffix: str) -> None:
        """Replace the trailing ``suffix`` of every tensor name that ends with it."""
        for name in [n for n in self._tensors if n.endswith(suffix)]:
            self.rename_tensor(name, name[: -len(suffix)] + new_suffix)

    def hide_tensors(self, *prefixes: str) -> int:
        """Drop the tensors whose names start with one of ``prefixes`` from the text model (the
        vision tower of a monolithic blob); returns how many were dropped."""
        hidden = [n for n in self._tensors if n.startswith(prefixes)]
        for name in hidden:
            del self._tensors[name]
        return len(hidden)

    def concat_outer(self, first: str, second: str, name: str) -> bool:
        """Replace tensors ``first`` and ``second`` by ``name``: their concatenation along the
        outermost dimension (``second``'s bytes after ``first``'s; no data is changed, the
        translated file copies both ranges). Needs the same type and inner dimensions; answers
        whether it fused them."""
        a, b = self._tensors.get(first), self._tensors.get(second)
        if (
            a is None
            or b is None
            or a.appended
            or b.appended
            or name in (set(self._tensors) - {first, second})
        ):
            return False
        if a.ggml_type != b.ggml_type or not a.shape or a.shape[:-1] != b.shape[:-1]:
            return False
        fused = KeptTensor(
            name,
            (*a.shape[:-1], a.shape[-1] + b.shape[-1]),
            a.ggml_type,
            a.source_offset,
            ((b.source_offset, tensor_nbytes(b.shape, b.ggml_type)),),
        )
        del self._tensors[first], self._tensors[second]
        self._tensors[name] = fused
        return True

    def keep_only_tensors(self, *prefixes: str) -> None:
        """Drop every tensor whose name starts with none of ``prefixes`` (the text model, when
        the vision tower of a monolithic blob is extracted)."""
        self._tensors = {n: t for n, t in self._tensors.items() if n.startswith(prefixes)}

    def keep_only_keys(self, *prefixes: str) -> None:
        """Drop every key whose name starts with none of ``prefixes``."""
        self._kvs = {k: kv for k, kv in self._kvs.items() if k.startswith(prefixes)}

    def shrink_outer(self, name: str, rows: int) -> None:
        """Keep only the first ``rows`` of the outermost dimension of tensor ``name`` (its bytes
        are a prefix of the original's, so no data changes)."""
        t = self._tensors.get(name)
        if t is not None and t.shape and rows < t.shape[-1]:
            self._tensors[name] = replace(t, shape=(*t.shape[:-1], rows))

    # ---- results -------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """Record one change, for ``show`` and the load log."""
        self._notes.append(text)

    @property
    def notes(self) -> tuple[str, ...]:
        """What the handlers changed."""
        return tuple(self._notes)

    def changed(self) -> bool:
        """Whether any key or tensor differs from the source header."""
        original = {kv.key: kv for kv in self.header.kvs}
        if original != self._kvs:
            return True
        kept = [(t.name, t.shape, t.ggml_type, t.source_offset, t.appended) for t in self._tensors.values()]
        return kept != [(t.name, t.shape, t.ggml_type, t.offset, ()) for t in self.header.tensors]

    def result(self) -> tuple[tuple[RawKv, ...], tuple[KeptTensor, ...]]:
        """The edited keys (original order, new keys at the end) and the kept tensors in their
        source order."""
        tensors = tuple(sorted(self._tensors.values(), key=lambda t: t.source_offset))
        return tuple(self._kvs.values()), tensors
