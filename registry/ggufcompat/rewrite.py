"""Plan a translation of one GGUF and write the translated file.

:func:`plan_translation` runs the architecture handlers over the file's header and answers None
when nothing needs changing. :func:`write_translated` writes the new file next to ``dest`` and
renames it into place: the new header, then the kept tensors laid out contiguously as GGUF
requires (each tensor's offset is the sum of the padded sizes before it). Runs of tensors that
were already contiguous are copied as one range with ``os.copy_file_range``, which shares the
blocks (reflink) on Btrfs/XFS when source and destination offsets are block-aligned alike; the
header is padded with a ``general.ollama_py.padding`` string so that the largest run's
destination offset is congruent to its source offset modulo 4096. Elsewhere the kernel copies.

The source file is only read; the blob under its digest never changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from registry.ggufcompat.architectures import HANDLERS
from registry.ggufcompat.edits import HeaderEdits, KeptTensor
from registry.ggufcompat.raw_header import (
    STRING,
    RawHeader,
    RawKv,
    RawTensor,
    read_raw_header,
    serialize_header,
    serialize_kvs,
    serialize_tensors,
    tensor_nbytes,
)

__all__ = [
    "PADDING_KEY",
    "FileLayout",
    "Translation",
    "expected_file",
    "plan_translation",
    "write_translated",
]

#: The key that pads the header so tensor data keeps its block alignment.
PADDING_KEY = "general.ollama_py.padding"
_BLOCK = 4096
_CHUNK = 1 << 30


@dataclass(frozen=True, slots=True)
class Translation:
    """What to write: the new keys and tensors, and what changed, in words."""

    source: RawHeader
    kvs: tuple[RawKv, ...]
    tensors: tuple[KeptTensor, ...]
    notes: tuple[str, ...]


def plan_translation(path: Path, label: str | None = None) -> Translation | None:
    """The translation llama.cpp needs for the GGUF at ``path``; None when it loads as it is.

    Raises:
        Unsupported: an Ollama layout that only a tensor-data repack could fix.
        InvalidWeights: not a readable GGUF.
        OSError: the file cannot be read.
    """
    header = read_raw_header(path, label)
    edits = HeaderEdits(header)
    for handler in HANDLERS:
        handler(edits)
    if not edits.changed():
        return None
    kvs, tensors = edits.result()
    return Translation(header, kvs, tensors, edits.notes or ("metadata normalized",))


@dataclass(frozen=True, slots=True)
class _Run:
    """Source bytes [src, src+length) go to destination data offset ``dst``."""

    src: int
    dst: int
    length: int


def _layout(plan: Translation) -> tuple[tuple[RawTensor, ...], list[_Run]]:
    align = plan.source.alignment
    out: list[RawTensor] = []
    runs: list[_Run] = []
    dst = 0

    def add(src: int, at: int, length: int) -> None:
        last = runs[-1] if runs else None
        if last is not None and last.src + last.length == src and last.dst + last.length == at:
            runs[-1] = _Run(last.src, last.dst, last.length + length)
        else:
            runs.append(_Run(src, at, length))

    for t in plan.tensors:
        n = tensor_nbytes(t.shape, t.ggml_type)
        padded = -(-n // align) * align
        out.append(RawTensor(t.name, t.shape, t.ggml_type, dst))
        if t.appended:  # a fused tensor: its pieces back to back, exact lengths; the padding stays zero
            pieces = [(t.source_offset, n - sum(length for _, length in t.appended)), *t.appended]
            at = dst
            for offset, length in pieces:
                add(plan.source.data_offset + offset, at, length)
                at += length
        else:
            add(plan.source.data_offset + t.source_offset, dst, padded)
        dst += padded
    # The last run may claim padding past the source's end: clamp it to the file.
    if runs:
        last = runs[-1]
        runs[-1] = _Run(last.src, last.dst, min(last.length, plan.source.file_size - last.src))
    return tuple(out), runs


def _header_bytes(plan: Translation, tensors: tuple[RawTensor, ...], runs: list[_Run]) -> bytes:
    """The serialized header, padded to the data start: aligned, and with the largest run's
    destination congruent to its source modulo 4096 (so a reflink can share its blocks). The
    padding key is the last key and its string length moves the header's end byte for byte, so
    the sections are serialized once and the padding is computed."""
    align = plan.source.alignment
    base = tuple(kv for kv in plan.kvs if kv.key != PADDING_KEY)
    base_bytes, tensor_bytes = serialize_kvs(base), serialize_tensors(tensors)

    def header(pad: int) -> bytes:
        kvs = (*base, RawKv(PADDING_KEY, STRING, b" " * pad))
        pad_kv = serialize_kvs(kvs[-1:])
        return serialize_header(kvs, tensors, kv_bytes=base_bytes + pad_kv, tensor_bytes=tensor_bytes)

    unpadded = len(header(0))
    pad = -unpadded % align
    target = max(runs, key=lambda r: r.length) if runs else None
    if target is not None and _BLOCK % align == 0:
        pad = (target.src - target.dst - unpadded) % _BLOCK
    raw = header(pad)
    return raw + b"\0" * (-len(raw) % align)


def _copy_range(src_fd: int, dst_fd: int, src: int, dst: int, length: int) -> None:
    """Copy with ``copy_file_range``. When source and destination are congruent modulo the block
    size, the bytes up to the first block boundary go first, so the rest starts block-aligned on
    both sides: the condition for the kernel to share the blocks (a reflink) instead of copying."""
    head = -src % _BLOCK if (src - dst) % _BLOCK == 0 else 0
    done = 0
    while done < length:
        step = min(_CHUNK, length - done)
        if done == 0 and head:
            step = min(head, length)
        try:
            n = os.copy_file_range(src_fd, dst_fd, step, src + done, dst + done)
        except OSError:
            n = 0
        if n <= 0:  # not supported across these files, or EOF: copy by hand
            os.lseek(src_fd, src + done, os.SEEK_SET)
            chunk = os.read(src_fd, min(step, 8 << 20))
            if not chunk:
                raise OSError(f"the source GGUF ended early at byte {src + done}")
            os.pwrite(dst_fd, chunk, dst + done)
            n = len(chunk)
        done += n


@dataclass(frozen=True, slots=True)
class FileLayout:
    """The translated file: its header (padded to the data start), its size, the copies to make."""

    header: bytes
    size: int
    runs: tuple[_Run, ...]


def expected_file(plan: Translation) -> FileLayout:
    """Lay the translated file out: a file with ``size`` bytes starting with ``header``, written by
    :func:`write_translated`, is this translation."""
    tensors, runs = _layout(plan)
    header = _header_bytes(plan, tensors, runs)
    return FileLayout(header, len(header) + (runs[-1].dst + runs[-1].length if runs else 0), tuple(runs))


def write_translated(source: Path, plan: Translation, dest: Path, layout: FileLayout | None = None) -> int:
    """Write the translated GGUF of ``source`` to ``dest`` atomically (a temporary file in the
    same directory, fsynced, then renamed); returns its size.

    Raises:
        OSError: reading the source or writing the destination failed (the temporary file is
            removed; ``dest`` is untouched).
    """
    layout = layout or expected_file(plan)
    header, runs = layout.header, layout.runs
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    src_fd = os.open(source, os.O_RDONLY)
    try:
        dst_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
        try:
            os.pwrite(dst_fd, header, 0)
            for run in runs:
                _copy_range(src_fd, dst_fd, run.src, len(header) + run.dst, run.length)
            size = layout.size
            os.ftruncate(dst_fd, size)
            os.fsync(dst_fd)
        finally:
            os.close(dst_fd)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(src_fd)
    return size
