"""Images through a multimodal projector (mmproj): llama.cpp's libmtmd, via ``llama_cpp.mtmd_cpp``.

The projector is loaded next to the text model (:class:`Projector`). A prompt with images carries
Ollama's ``[img-N]`` markers where the template put each image; :meth:`Projector.tokenize` turns
it into one list of positions: text tokens as they are, and each image as a run of placeholder
ids (negative, derived from the image's bytes, so that a slot's cached prefix is reused across
requests that send the same image at the same place) with the libmtmd chunk that evaluates it.
The engine feeds the text through its shared batches and evaluates each image chunk at its
position with ``mtmd_helper_eval_chunk_single`` (encode with the vision tower, project, decode
the embeddings into the slot's sequence).

Why libmtmd and not ``llava_cpp``: llama.cpp removed libllava (``clip_model_load``,
``llava_image_embed_*``) in 2025; llama-cpp-python still ships the ``llava_cpp`` bindings but no
longer builds the library, while it builds ``libmtmd`` (``LLAVA_BUILD``, on by default) and binds it
in ``mtmd_cpp``. libmtmd also knows every projector type's image pre-processing and the special
tokens around an image (Gemma 3's ``<start_of_image>``), which libllava never did.

Thread safety: every method that touches the projector runs on the engine's loop thread.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import llama_cpp

__all__ = ["IMAGE_MARKER", "MediaChunk", "MediaPrompt", "Projector", "ProjectorError", "image_placeholder"]

#: Ollama's image marker in a prompt: ``[img-N]`` names the image whose ``id`` is N.
IMAGE_MARKER = re.compile(r"\[img-(\d+)\]")

_CHUNK_TEXT = 0  # MTMD_INPUT_CHUNK_TYPE_TEXT


class ProjectorError(RuntimeError):
    """The projector cannot be loaded (or libmtmd is missing)."""


def image_placeholder(data: bytes) -> int:
    """The (negative) id that stands for ``data``'s image tokens in a slot's token list. It never
    reaches llama.cpp (images are evaluated from their chunks), so it may use 63 bits of the
    image's hash: two different images at one place never share a cached prefix."""
    return -1 - (int.from_bytes(hashlib.sha256(data).digest()[:8], "little") >> 1)


@dataclass(eq=False)
class MediaChunk:
    """One image, tokenized: evaluated at position ``start`` over ``n_pos`` positions, counting
    ``n_tokens`` prompt tokens. ``chunk`` is owned by the :class:`MediaPrompt`'s chunk list."""

    start: int
    n_pos: int
    n_tokens: int
    chunk: Any


@dataclass(eq=False)
class MediaPrompt:
    """A tokenized prompt with images: ``tokens`` (placeholders where images go), the images by
    start position, and the libmtmd chunk list that owns them (freed by :meth:`close`)."""

    tokens: list[int]
    media: dict[int, MediaChunk] = field(default_factory=dict)
    _chunks: Any = None

    @property
    def extra_tokens(self) -> int:
        """Prompt tokens beyond ``len(tokens)`` (an image may take fewer positions than tokens)."""
        return sum(m.n_tokens - m.n_pos for m in self.media.values())

    def close(self) -> None:
        """Free the chunks. Idempotent."""
        if self._chunks is not None:
            from llama_cpp import mtmd_cpp

            mtmd_cpp.mtmd_input_chunks_free(self._chunks)
            self._chunks = None


#: The libmtmd bindings the runner calls (llama-cpp-python 0.3.36 has them all; older releases
#: lack some or bind them with other signatures).
_NEEDED = (
    "mtmd_init_from_file",
    "mtmd_helper_bitmap_init_from_buf",
    "mtmd_tokenize",
    "mtmd_input_chunk_get_n_pos",
    "mtmd_helper_eval_chunk_single",
    "mtmd_helper_log_set",
)


def _mtmd() -> Any:
    """``llama_cpp.mtmd_cpp``, checked.

    Raises:
        ProjectorError: libmtmd was not built, or the bindings are too old.
    """
    try:
        from llama_cpp import mtmd_cpp
    except (ImportError, OSError, FileNotFoundError, RuntimeError) as err:
        raise ProjectorError(
            "this llama-cpp-python was built without libmtmd (the multimodal library), so vision "
            f"models cannot load: {err}; reinstall it with CMAKE_ARGS=-DLLAVA_BUILD=ON"
        ) from err
    missing = [name for name in _NEEDED if not hasattr(mtmd_cpp, name)]
    if missing:
        version = getattr(llama_cpp, "__version__", "?")
        raise ProjectorError(
            f"llama-cpp-python {version} lacks the libmtmd bindings vision needs ({', '.join(missing)}): "
            "upgrade it (0.3.36 is tested)"
        )
    return mtmd_cpp


class Projector:
    """A loaded mmproj GGUF bound to its text model.

    Raises:
        ProjectorError: libmtmd is missing, or it refused the file (wrong file, or a projector
            whose embedding size does not match the text model's).
    """

    def __init__(self, path: str, text_model: Any, *, threads: int, use_gpu: bool, quiet: bool) -> None:
        mtmd = _mtmd()
        self._mtmd = mtmd
        self._log_cb: Any = None
        if quiet:

            def _log(_level: int, _text: bytes, _user: ctypes.c_void_p) -> None:
                return None

            self._log_cb = llama_cpp.llama_log_callback(_log)
            mtmd.mtmd_log_set(self._log_cb, ctypes.c_void_p(0))
            mtmd.mtmd_helper_log_set(self._log_cb, ctypes.c_void_p(0))
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = use_gpu
        params.print_timings = False
        params.n_threads = max(1, threads)
        params.warmup = False
        ctx = mtmd.mtmd_init_from_file(path.encode(), text_model, params)
        if not ctx:
            raise ProjectorError(
                f"llama.cpp could not load the vision projector {path} (not an mmproj GGUF, an unknown "
                "projector type, or one made for another model: its embedding size must match)"
            )
        self.ctx = ctx
        marker = mtmd.mtmd_default_marker()
        self.marker: bytes = marker.encode() if isinstance(marker, str) else bytes(marker)
        if not mtmd.mtmd_support_vision(ctx):
            mtmd.mtmd_free(ctx)
            raise ProjectorError(
                f"the projector {path} has no vision encoder (audio-only projectors are not supported)"
            )

    def tokenize(self, prompt: str, images: dict[int, bytes], *, add_special: bool) -> MediaPrompt:
        """``prompt`` with its ``[img-N]`` markers replaced by the images ``images[N]``.

        Raises:
            ValueError: a marker names no image (``invalid image index: N``), an image cannot be
                decoded, or libmtmd refused the input.
        """
        mtmd = self._mtmd
        order: list[bytes] = []
        marker = self.marker.decode()

        def swap(match: re.Match[str]) -> str:
            index = int(match.group(1))
            if index not in images:
                raise ValueError(f"invalid image index: {index}")
            order.append(images[index])
            return marker

        text = IMAGE_MARKER.sub(swap, prompt)
        bitmaps: list[Any] = []
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            for n, data in enumerate(order):
                buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
                bitmap = mtmd.mtmd_helper_bitmap_init_from_buf(self.ctx, buf, len(data), False)
                if not bitmap:
                    raise ValueError(
                        f"image {n}: the data could not be decoded as an image (use PNG or JPEG)"
                    )
                bitmaps.append(bitmap)
            array = (mtmd.mtmd_bitmap_p_ctypes * max(1, len(bitmaps)))(*bitmaps)
            encoded = text.encode("utf-8")
            inp = mtmd.mtmd_input_text(encoded, len(encoded), add_special, True)
            rc = mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(inp), array, len(bitmaps))
            if rc != 0:
                raise ValueError(
                    "the images do not match the prompt's image markers"
                    if rc == 1
                    else f"the image could not be pre-processed (libmtmd error {rc})"
                )
            out = MediaPrompt(tokens=[], _chunks=chunks)
            chunks = None
            image = 0
            for i in range(mtmd.mtmd_input_chunks_size(out._chunks)):
                chunk = mtmd.mtmd_input_chunks_get(out._chunks, i)
                if mtmd.mtmd_input_chunk_get_type(chunk) == _CHUNK_TEXT:
                    count = ctypes.c_size_t(0)
                    ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                    out.tokens.extend(int(ptr[k]) for k in range(count.value))
                    continue
                n_pos = int(mtmd.mtmd_input_chunk_get_n_pos(chunk))
                n_tokens = int(mtmd.mtmd_input_chunk_get_n_tokens(chunk))
                out.media[len(out.tokens)] = MediaChunk(len(out.tokens), n_pos, n_tokens, chunk)
                out.tokens.extend([image_placeholder(order[min(image, len(order) - 1)])] * n_pos)
                image += 1
            return out
        finally:
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)
            if chunks is not None:
                mtmd.mtmd_input_chunks_free(chunks)

    def evaluate(self, lctx: Any, media: MediaChunk, seq: int, n_batch: int, *, logits_last: bool) -> None:
        """Encode ``media`` and decode its embeddings into sequence ``seq`` at ``media.start``.

        Raises:
            RuntimeError: the vision tower or the decode failed.
        """
        new_n_past = llama_cpp.llama_pos(0)
        rc = self._mtmd.mtmd_helper_eval_chunk_single(
            self.ctx, lctx, media.chunk, media.start, seq, n_batch, logits_last, ctypes.byref(new_n_past)
        )
        if rc != 0:
            raise RuntimeError(f"evaluating an image failed (libmtmd error {rc})")

    def close(self) -> None:
        """Free the projector. Idempotent."""
        if self.ctx:
            self._mtmd.mtmd_free(self.ctx)
            self.ctx = None


def decode_images(images: Any) -> dict[int, bytes]:
    """The protocol's ``images`` (``[{"id": n, "data": base64}]``) as bytes by id.

    Raises:
        ValueError: not base64, or an id given twice.
    """
    import base64
    import binascii

    out: dict[int, bytes] = {}
    for image in images:
        index = int(image["id"])
        if index in out:
            raise ValueError(f"image id {index} is given twice")
        try:
            out[index] = base64.b64decode(image["data"], validate=True)
        except (binascii.Error, ValueError) as err:
            raise ValueError(f"image {index}: invalid base64 data ({err})") from err
    return out
