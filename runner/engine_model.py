"""A loaded llama.cpp model: weights, vocabulary, metadata, tokenizer, and the embedding context.

Everything here talks to llama.cpp through llama-cpp-python's low-level (ctypes) API. Thread
safety: tokenize/detokenize/metadata only read the vocabulary and may be called from any thread;
:meth:`LoadedModel.embed` must be called from one thread at a time (the engine's loop thread).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence
from typing import Any

import llama_cpp

from runner.cpu import physical_cores, use_cpu_repack
from runner.engine_media import Projector, ProjectorError
from runner.protocol import LoadOptions

__all__ = ["LoadError", "LoadedModel", "backend_init"]


class LoadError(RuntimeError):
    """The model cannot be loaded (bad file, unknown architecture, out of memory)."""


def backend_init() -> None:
    """Initialise llama.cpp's backends. Idempotent (llama.cpp allows repeated calls)."""
    llama_cpp.llama_backend_init()


def _silence_logs() -> Any:
    def _log(_level: int, _text: bytes, _user: ctypes.c_void_p) -> None:
        return None

    callback = llama_cpp.llama_log_callback(_log)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    return callback  # kept referenced by the caller for as long as llama.cpp may call it


def open_llama(path: str, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(path, **kwargs)`` loaded with the runner's model parameters where they
    differ from llama-cpp-python's defaults (``use_extra_bufts``, see :func:`runner.cpu.use_cpu_repack`).
    For tests and benchmarks that use the high-level API: ``Llama`` has no argument for it, so its
    call of ``llama_model_default_params`` is wrapped for this one load (not thread-safe)."""
    import llama_cpp.llama_cpp as low_level

    default_params = low_level.llama_model_default_params

    def runner_params() -> Any:
        params = default_params()
        params.use_extra_bufts = use_cpu_repack()
        return params

    low_level.llama_model_default_params = runner_params
    try:
        return llama_cpp.Llama(path, **kwargs)
    finally:
        low_level.llama_model_default_params = default_params


class LoadedModel:
    """Model weights plus vocabulary. ``progress(fraction)`` is called while loading.

    Raises:
        LoadError: llama.cpp could not load the file (the message says why when known).
    """

    def __init__(
        self, options: LoadOptions, progress: Callable[[float], None], *, quiet: bool = True
    ) -> None:
        backend_init()
        self._log_cb = _silence_logs() if quiet else None
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 999 if options.num_gpu < 0 else options.num_gpu
        params.main_gpu = options.main_gpu
        params.load_mode = (
            llama_cpp.LLAMA_LOAD_MODE_MMAP if options.use_mmap else llama_cpp.LLAMA_LOAD_MODE_NONE
        )
        params.use_extra_bufts = use_cpu_repack()  # off where it crashes (AMX; see runner.cpu)

        def _progress(fraction: float, _user: ctypes.c_void_p) -> bool:
            progress(float(fraction))
            return True

        self._progress_cb = llama_cpp.llama_progress_callback(_progress)
        params.progress_callback = self._progress_cb
        model = llama_cpp.llama_model_load_from_file(options.model.encode(), params)
        if not model:
            raise LoadError(
                f"llama.cpp could not load the model file {options.model}{_arch_hint(options.model)}"
            )
        self.model = model
        self.vocab = llama_cpp.llama_model_get_vocab(model)
        self.options = options
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.n_embd = int(llama_cpp.llama_model_n_embd(model))
        self.n_ctx_train = int(llama_cpp.llama_model_n_ctx_train(model))
        self._embed_ctx: Any = None
        self._adapters: list[Any] = []
        for path in options.adapters:
            adapter = llama_cpp.llama_adapter_lora_init(model, path.encode())
            if not adapter:
                raise LoadError(f"llama.cpp could not load the adapter {path}")
            self._adapters.append(adapter)
        self.projector: Projector | None = None
        if len(options.projectors) > 1:
            self.close()
            raise LoadError("this model has more than one projector: only one is supported")
        if options.projectors:
            try:
                self.projector = Projector(
                    options.projectors[0],
                    model,
                    threads=options.num_thread if options.num_thread > 0 else physical_cores(),
                    use_gpu=options.num_gpu != 0,
                    quiet=quiet,
                )
            except ProjectorError as err:
                self.close()
                raise LoadError(str(err)) from err

    # -- metadata -------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        """A GGUF metadata value as text, or None when absent."""
        size = 1 << 16
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_model_meta_val_str(self.model, key.encode(), buf, size)
        if n < 0:
            return None
        if n >= size:
            buf = ctypes.create_string_buffer(n + 1)
            llama_cpp.llama_model_meta_val_str(self.model, key.encode(), buf, n + 1)
        return buf.value.decode("utf-8", errors="replace")

    def token_text(self, token: int) -> str:
        """The text of a (special) token, e.g. ``<bos>``."""
        if token < 0:
            return ""
        return self.detokenize([token], special=True)

    def info(self, n_ctx: int, parallel: int) -> dict[str, Any]:
        """The ``info`` object of ``/health``."""
        return {
            "arch": self.meta("general.architecture") or "",
            "n_ctx_train": self.n_ctx_train,
            "n_ctx": n_ctx,
            "n_embd": self.n_embd,
            "n_vocab": self.n_vocab,
            "parallel": parallel,
            "chat_template": self.meta("tokenizer.chat_template") or "",
            "bos": self.token_text(int(llama_cpp.llama_vocab_bos(self.vocab))),
            "eos": self.token_text(int(llama_cpp.llama_vocab_eos(self.vocab))),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(self.vocab)),
            "vision": self.projector is not None,
        }

    # -- tokens ---------------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = True) -> list[int]:
        """Token ids of ``text``."""
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, capacity, add_special, parse_special)
        if n < 0:
            capacity = -n
            buf = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(
                self.vocab, data, len(data), buf, capacity, add_special, parse_special
            )
        return list(buf[:n])

    def piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes of one generated token (special tokens render as empty unless ``special``)."""
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def special_tokens(self, texts: Sequence[str]) -> frozenset[int]:
        """The ids of those ``texts`` that are one token of the vocabulary each (others ignored)."""
        ids = (self.tokenize(text, add_special=False) for text in texts)
        return frozenset(found[0] for found in ids if len(found) == 1)

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        """Text of ``tokens``."""
        if not tokens:
            return ""
        arr = (llama_cpp.llama_token * len(tokens))(*tokens)
        capacity = max(64, len(tokens) * 16)
        buf = ctypes.create_string_buffer(capacity)
        n = llama_cpp.llama_detokenize(self.vocab, arr, len(tokens), buf, capacity, False, special)
        if n < 0:
            capacity = -n
            buf = ctypes.create_string_buffer(capacity)
            n = llama_cpp.llama_detokenize(self.vocab, arr, len(tokens), buf, capacity, False, special)
        return buf.raw[:n].decode("utf-8", errors="replace")

    def is_eog(self, token: int) -> bool:
        """True for end-of-generation tokens (EOS, EOT, ...)."""
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    # -- embeddings -----------------------------------------------------------------------------

    def embed(self, tokens: list[int], n_ctx: int, threads: int) -> list[float]:
        """The pooled (mean unless the model says otherwise) embedding of ``tokens``, not
        normalised. Uses a dedicated embedding context created on first use.

        Raises:
            RuntimeError: llama.cpp failed to evaluate the input or returned NaN/Inf.
        """
        if self._embed_ctx is None:
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = n_ctx
            params.n_batch = params.n_ubatch = n_ctx
            params.n_seq_max = 1
            params.n_threads = params.n_threads_batch = threads
            params.embeddings = True
            pooling = llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED
            params.pooling_type = pooling
            ctx = llama_cpp.llama_init_from_model(self.model, params)
            if not ctx:
                raise RuntimeError("could not create an embedding context")
            if llama_cpp.llama_pooling_type(ctx) == llama_cpp.LLAMA_POOLING_TYPE_NONE:
                llama_cpp.llama_free(ctx)
                params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_MEAN
                ctx = llama_cpp.llama_init_from_model(self.model, params)
            self._embed_ctx = ctx
        ctx = self._embed_ctx
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
        batch = llama_cpp.llama_batch_init(len(tokens), 0, 1)
        try:
            for i, tok in enumerate(tokens):
                batch.token[i] = tok
                batch.pos[i] = i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = True
            batch.n_tokens = len(tokens)
            rc = llama_cpp.llama_decode(ctx, batch) if tokens else 0
            if rc != 0:
                raise RuntimeError(f"llama_decode failed for the embedding input ({rc})")
            ptr = llama_cpp.llama_get_embeddings_seq(ctx, 0)
            if not ptr:
                raise RuntimeError("the model returned no embedding")
            vector = [float(ptr[i]) for i in range(self.n_embd)]
        finally:
            llama_cpp.llama_batch_free(batch)
        if any(math.isnan(v) or math.isinf(v) for v in vector):
            raise RuntimeError("the embedding contains NaN or Inf values")
        return vector

    def close(self) -> None:
        """Free llama.cpp resources. Idempotent."""
        projector = getattr(self, "projector", None)
        if projector is not None:
            projector.close()
            self.projector = None
        if self._embed_ctx is not None:
            llama_cpp.llama_free(self._embed_ctx)
            self._embed_ctx = None
        if self.model:
            llama_cpp.llama_model_free(self.model)
            self.model = None


def _arch_hint(path: str) -> str:
    """Why a file probably failed: not GGUF at all, or an architecture llama.cpp does not know."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as err:
        return f": {err.strerror}"
    if magic != b"GGUF":
        return ": not a GGUF file (this model format cannot run on llama.cpp)"
    try:
        import gguf

        reader = gguf.GGUFReader(path)
        field = reader.fields.get("general.architecture")
        if field is not None:
            arch = bytes(field.parts[field.data[0]]).decode()
            return f": unsupported model architecture {arch!r} or damaged file"
    except Exception:  # gguf cannot parse it either
        return ": the GGUF file is damaged"
    return ""
