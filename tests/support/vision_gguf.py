"""A tiny but real vision projector (mmproj GGUF) that llama.cpp's libmtmd loads and runs.

``write_gemma3_projector(path, text_embd=64)`` writes a Gemma 3 style projector (a SigLIP vision
tower of one block, average pooling, the soft-embedding norm and the input projection) with tiny
dimensions and random weights: a 64x64 image becomes 8x8 patches, pooled 2x2 into 16 image
tokens of ``text_embd`` values, which is what the text model's embedding size must be. The output
of a model using it is nonsense, but the path through llama.cpp is the real one: image decoding,
pre-processing, the vision graph, and the embeddings decoded into the text model's context.

``write_png(width, height)`` makes a small valid PNG (no imaging library needed).
Deterministic: same arguments, same bytes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["IMAGE_TOKENS", "VISION_EMBD", "gemma3_projector_tensors", "write_gemma3_projector", "write_png"]

#: The image tokens one image becomes with the default projector (64/8 = 8 patches a side, pooled by 2).
IMAGE_TOKENS = 16
#: The vision tower's width.
VISION_EMBD = 32
_IMAGE, _PATCH, _MERGE, _HEADS, _FF = 64, 8, 2, 2, 64


def gemma3_projector_tensors(text_embd: int, *, seed: int = 0, prefix_mm: str = "mm.") -> dict[str, Any]:
    """The projector's tensors as llama.cpp's mmproj names them (``v.*`` tower, ``mm.*``
    projection), as numpy arrays (the patch embedding in F16, the rest F32)."""
    rng = np.random.default_rng(seed)
    n, ff, patches = VISION_EMBD, _FF, (_IMAGE // _PATCH) ** 2

    def w(*shape: int) -> np.ndarray[Any, Any]:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    def ones(size: int) -> np.ndarray[Any, Any]:
        return np.ones(size, np.float32)

    def zeros(size: int) -> np.ndarray[Any, Any]:
        return np.zeros(size, np.float32)

    t: dict[str, Any] = {
        "v.patch_embd.weight": w(n, 3, _PATCH, _PATCH).astype(np.float16),
        "v.patch_embd.bias": zeros(n),
        "v.position_embd.weight": w(patches, n),
        "v.post_ln.weight": ones(n),
        "v.post_ln.bias": zeros(n),
        f"{prefix_mm}input_projection.weight": w(n, text_embd),
        f"{prefix_mm}soft_emb_norm.weight": ones(n),
    }
    p = "v.blk.0."
    for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
        t[p + name + ".weight"] = w(n, n)
        t[p + name + ".bias"] = zeros(n)
    for name in ("ln1", "ln2"):
        t[p + name + ".weight"] = ones(n)
        t[p + name + ".bias"] = zeros(n)
    t[p + "ffn_up.weight"], t[p + "ffn_up.bias"] = w(ff, n), zeros(ff)
    t[p + "ffn_down.weight"], t[p + "ffn_down.bias"] = w(n, ff), zeros(n)
    return t


def write_gemma3_projector(path: Path | str, *, text_embd: int = 64, seed: int = 0) -> Path:
    """Write the tiny Gemma 3 projector for a text model of embedding size ``text_embd``."""
    import gguf

    out = Path(path)
    writer = gguf.GGUFWriter(out, "clip")
    writer.add_name("tiny-gemma3-mmproj")
    writer.add_string("general.type", "mmproj")
    writer.add_file_type(1)
    writer.add_string("clip.projector_type", "gemma3")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", _IMAGE)
    writer.add_uint32("clip.vision.patch_size", _PATCH)
    writer.add_uint32("clip.vision.embedding_length", VISION_EMBD)
    writer.add_uint32("clip.vision.feed_forward_length", _FF)
    writer.add_uint32("clip.vision.block_count", 1)
    writer.add_uint32("clip.vision.projection_dim", text_embd)
    writer.add_uint32("clip.vision.attention.head_count", _HEADS)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    writer.add_uint32("clip.vision.projector.scale_factor", _MERGE)
    tensors = gemma3_projector_tensors(text_embd, seed=seed)
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def write_png(width: int = 8, height: int = 8, *, seed: int = 0) -> bytes:
    """A valid RGB PNG of random pixels."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
