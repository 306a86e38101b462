"""Continuous batching over one llama context: ``parallel`` slots (llama sequences) share every
``llama_decode`` call, so concurrent requests advance together.

One background thread (the loop) owns the context: it admits queued jobs into free slots (the
slot whose cached tokens share the longest prefix with the prompt wins, and that prefix is not
re-evaluated), feeds prompt chunks and one token per generating slot into a single batch, decodes,
samples each slot with its own sampler chain, and reports events through each job's ``emit``
callback (called on the loop thread: it must be cheap and thread-safe). Cancelling a job frees its
slot before the next decode step.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import llama_cpp

from runner.cpu import physical_cores
from runner.engine_grammar import grammar_for_format
from runner.engine_jobs import Emit, Job, PromptTooLong, Slot, common_prefix
from runner.engine_logprobs import log_softmax, token_logprob
from runner.engine_media import MediaPrompt, decode_images
from runner.engine_model import LoadedModel
from runner.engine_sampling import Sampler, StopText, check_grammar, sampling_options
from runner.protocol import MAX_PREDICT_PER_CTX, CompletionRequest, LoadOptions
from runner.protocol.options import MAX_THREADS

__all__ = ["MAX_TOKEN_BYTES", "Engine", "Job", "PromptTooLong"]

#: No token of any vocabulary spans more bytes than this (long-run tokens are tens of bytes).
MAX_TOKEN_BYTES = 128


class Engine:
    """The batching loop over ``model``. Start with :meth:`start`; stop with :meth:`close`."""

    def __init__(self, model: LoadedModel, options: LoadOptions) -> None:
        self.model = model
        num_ctx = options.num_ctx
        if model.n_ctx_train > 0:
            num_ctx = min(num_ctx, model.n_ctx_train)  # as Ollama: never beyond the training context
        self.num_ctx = max(8, num_ctx)
        self.parallel = max(1, options.parallel)
        self.threads = min(options.num_thread, MAX_THREADS) if options.num_thread > 0 else physical_cores()
        self.threads_batch = self.threads  # as llama-server (-tb defaults to -t) and Ollama
        # as llama.cpp: a batch never holds more tokens than the context
        self.n_batch = min(max(options.num_batch, self.parallel), self.num_ctx * self.parallel)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.num_ctx * self.parallel
        params.n_batch = self.n_batch
        # An image's embeddings are decoded in one micro-batch (Gemma 3 attends to them
        # non-causally), so a vision model's micro-batch is its whole batch.
        self.n_ubatch = self.n_batch if model.projector is not None else min(self.n_batch, 512)
        params.n_ubatch = self.n_ubatch
        params.n_seq_max = self.parallel
        params.n_threads = self.threads
        params.n_threads_batch = self.threads_batch
        params.swa_full = True  # keeps every position so cached prefixes stay reusable
        params.kv_unified = False  # one KV stream per slot: each slot owns num_ctx positions
        params.flash_attn_type = (
            llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if options.flash_attention
            else llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
        )
        self.ctx = llama_cpp.llama_init_from_model(model.model, params)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context (out of memory?)")
        for adapter in model._adapters:
            llama_cpp.llama_set_adapter_lora(self.ctx, adapter, 1.0)
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.can_shift = bool(llama_cpp.llama_memory_can_shift(self.mem))
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self.slots = [Slot(seq=i) for i in range(self.parallel)]
        self._queue: queue.SimpleQueue[Job | Callable[[], None] | None] = queue.SimpleQueue()
        self._waiting: list[Job] = []
        self._thread = threading.Thread(target=self._run, name="engine-loop", daemon=True)
        self._closed = False

    # -- public API (any thread) ----------------------------------------------------------------

    def start(self) -> None:
        """Start the loop thread."""
        self._thread.start()

    def submit(self, request: CompletionRequest, emit: Emit) -> Job:
        """Queue a completion. Raises PromptTooLong / ValueError for bad input (before queueing)."""
        opts = sampling_options(request.options)
        grammar = request.grammar or grammar_for_format(request.format)
        media = self._media_prompt(request) if request.images else None
        try:
            tokens = media.tokens if media is not None else self._text_tokens(request, opts)
            if grammar:
                check_grammar(self.model.vocab, grammar)
        except BaseException:
            if media is not None:
                self.call(media.close)
            raise
        job = Job(
            tokens=tokens,
            opts=opts,
            grammar=grammar,
            emit=emit,
            want_context=request.want_context,
            logprobs=request.logprobs,
            top_logprobs=request.top_logprobs,
            media=media,
            preserved=self.model.special_tokens(request.preserved_tokens),
        )
        self._queue.put(job)
        return job

    def _text_tokens(self, request: CompletionRequest, opts: dict[str, Any]) -> list[int]:
        """The prompt's tokens (or the request's own), fitted to the context. Raises PromptTooLong."""
        tokens = (
            list(request.tokens)
            if request.tokens is not None
            else self.tokenize_bounded(
                request.prompt,
                limit=self.num_ctx,
                keep=int(opts["num_keep"]),
                truncate=request.truncate,
                add_special=request.add_special,
            )
        )
        if not tokens:
            tokens = [int(llama_cpp.llama_vocab_bos(self.model.vocab))]
        return self._fit(tokens, int(opts["num_keep"]), request.truncate)

    def _media_prompt(self, request: CompletionRequest) -> MediaPrompt:
        """The prompt with its images (see :mod:`runner.engine_media`), tokenized on the loop thread,
        which owns the projector. The caller closes it if it does not queue it.

        Raises:
            ValueError: no projector, an undecodable image, a marker naming no image, a prompt
                that ends with an image. PromptTooLong: the prompt with its images does not fit.
        """
        projector = self.model.projector
        if projector is None:
            raise ValueError("this model does not support images: it has no vision projector")
        images = decode_images(request.images)
        prompt: MediaPrompt = self.call(
            lambda: projector.tokenize(request.prompt, images, add_special=request.add_special)
        )
        try:
            tokens = prompt.tokens
            if not prompt.media:
                raise ValueError("the prompt has no [img-N] marker for its images")
            if len(tokens) > self.num_ctx - 1:
                raise PromptTooLong(
                    f"the input with its images ({len(tokens)} positions) exceeds the context length "
                    f"({self.num_ctx - 1}); images are never truncated: raise num_ctx or send less"
                )
            if max(prompt.media) + prompt.media[max(prompt.media)].n_pos >= len(tokens):
                raise ValueError("the prompt ends with an image: add text after it")
        except BaseException:
            self.call(prompt.close)
            raise
        return prompt

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the loop thread (between decode steps) and return its result."""
        done = threading.Event()
        box: list[Any] = []

        def wrapped() -> None:
            try:
                box.append((True, fn()))
            except BaseException as err:  # handed back to the caller
                box.append((False, err))
            done.set()

        self._queue.put(wrapped)
        done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop the loop and free the context. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)

    def tokenize_bounded(
        self, text: str, *, limit: int, keep: int, truncate: bool, add_special: bool = True
    ) -> list[int]:
        """Tokens of ``text``, tokenizing only what can matter for a context of ``limit`` tokens.

        llama.cpp's tokenizers are superlinear on long runs (300,000 ``a`` take 9 s), and a text
        beyond ``limit * MAX_TOKEN_BYTES`` bytes has more than ``limit`` tokens anyway (no token
        spans more bytes). Such a text is refused without ``truncate``; with it, only its head (for
        the ``keep`` tokens that truncation keeps) and its tail (for the rest) are tokenized.

        Raises:
            PromptTooLong: the text cannot fit and ``truncate`` is false.
        """
        span = limit * MAX_TOKEN_BYTES
        if len(text) <= span // 4 or len(text.encode("utf-8", errors="replace")) <= span:
            return self.model.tokenize(text, add_special=add_special)
        if not truncate:
            raise PromptTooLong(f"the input length exceeds the context length ({limit} tokens)")
        keep = limit // 2 if keep < 0 else min(keep, limit // 2)
        head = self.model.tokenize(text[: keep * MAX_TOKEN_BYTES], add_special=add_special)[:keep]
        return head + self.model.tokenize(text[-span:], add_special=False)

    def _fit(self, tokens: list[int], num_keep: int, truncate: bool) -> list[int]:
        limit = self.num_ctx - 1
        if len(tokens) <= limit:
            return tokens
        if not truncate:
            raise PromptTooLong(
                f"the input length ({len(tokens)} tokens) exceeds the context length ({limit})"
            )
        keep = limit // 2 if num_keep < 0 else min(num_keep, limit // 2)
        return tokens[:keep] + tokens[len(tokens) - (limit - keep) :]

    # -- loop thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            idle = not any(s.job for s in self.slots) and not self._waiting
            if not self._take_queued(block=idle):
                self._fail_all("the runner is shutting down")
                return
            self._admit()
            try:
                self._step()
            except Exception as err:  # a failed decode fails the jobs in it, not the runner
                self._fail_all(f"an error was encountered while running the model: {err}")

    def _take_queued(self, *, block: bool) -> bool:
        """Move queued jobs to the waiting list and run queued calls; False on shutdown."""
        while True:
            try:
                item = self._queue.get(block=block)
            except queue.Empty:
                return True
            block = False
            if item is None:
                return False
            if isinstance(item, Job):
                self._waiting.append(item)
            else:
                item()

    def _fail_all(self, message: str) -> None:
        for slot in self.slots:
            if slot.job is not None:
                slot.job.emit({"error": message})
                self._release(slot, keep_cache=False)
        for job in self._waiting:
            job.emit({"error": message})
            job.free_media()
        self._waiting.clear()

    def _admit(self) -> None:
        for job in self._waiting:
            if job.cancelled.is_set():
                job.free_media()
        self._waiting = [j for j in self._waiting if not j.cancelled.is_set()]
        while self._waiting:
            free = [s for s in self.slots if s.job is None]
            if not free:
                return
            job = self._waiting.pop(0)
            slot = max(free, key=lambda s: (common_prefix(s.cache, job.tokens), -s.last_used))
            try:
                self._assign(slot, job)
            except Exception as err:  # e.g. a grammar llama.cpp rejects: fail this job only
                job.emit({"error": str(err)})
                self._release(slot, keep_cache=False)

    def _assign(self, slot: Slot, job: Job) -> None:
        reuse = common_prefix(slot.cache, job.tokens)
        if int(job.opts["seed"]) >= 0:
            # Same seed, same prompt, same text (Ollama's promise): a reused prefix would change the
            # batch shapes the prompt is evaluated in, and with them the last bits of the logits.
            reuse = 0
        if reuse >= len(job.tokens):
            reuse = len(job.tokens) - 1  # the last prompt token must be evaluated for logits
        reuse = job.cut_outside_media(reuse)  # an image is evaluated whole or not at all
        if not llama_cpp.llama_memory_seq_rm(self.mem, slot.seq, reuse, -1):
            llama_cpp.llama_memory_seq_rm(self.mem, slot.seq, -1, -1)
            reuse = 0
        slot.cache = job.tokens[:reuse]
        job.pending = job.tokens[reuse:]
        job.sampler = Sampler(self.model.vocab, self.model.n_vocab, job.opts, job.grammar, n_ctx=self.num_ctx)
        job.stop_text = StopText(list(job.opts["stop"]))
        num_predict = int(job.opts["num_predict"])
        bound = MAX_PREDICT_PER_CTX * self.num_ctx  # Ollama's boundedNumPredict: every generation ends
        job.limit = bound if num_predict < 0 else min(num_predict, bound)
        job.fill_context = num_predict == -2
        job.started = time.perf_counter()
        slot.job = job
        if num_predict == 0:
            job.prompt_done = job.started
            self._finish(slot, "length")

    def _release(self, slot: Slot, *, keep_cache: bool = True) -> None:
        job = slot.job
        if job is not None and job.sampler is not None:
            job.sampler.close()
        if job is not None:
            job.free_media()
        if not keep_cache:
            llama_cpp.llama_memory_seq_rm(self.mem, slot.seq, -1, -1)
            slot.cache = []
        slot.job = None
        slot.last_used = time.monotonic()

    def _step(self) -> None:
        for slot in self.slots:
            if slot.job is not None and slot.job.cancelled.is_set():
                self._release(slot)
        batch = self.batch
        n = 0
        outputs: list[tuple[Slot, int]] = []

        def add(slot: Slot, token: int, logits: bool) -> None:
            nonlocal n
            batch.token[n] = token
            batch.pos[n] = len(slot.cache)
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = slot.seq
            batch.logits[n] = logits
            slot.cache.append(token)
            if logits:
                outputs.append((slot, n))
            n += 1

        for slot in self.slots:  # one token for every generating slot
            job = slot.job
            if job is not None and not job.pending and job.generated:
                if len(slot.cache) >= self.num_ctx and (job.fill_context or not self._shift(slot)):
                    self._finish(slot, "length")  # -2 fills the context once; no shift
                    continue
                add(slot, job.generated[-1], True)
        self._evaluate_images()
        for slot in self.slots:  # then prompt chunks with what is left of the batch
            job = slot.job
            if job is None or not job.pending or n >= self.n_batch:
                continue
            take = min(len(job.pending), self.n_batch - n)
            image = job.media_start_within(len(slot.cache), len(slot.cache) + take)
            if image is not None:  # text up to the next image; the image goes next step
                take = image - len(slot.cache)
                if take == 0:
                    continue
            chunk, job.pending = job.pending[:take], job.pending[take:]
            for i, tok in enumerate(chunk):
                add(slot, tok, not job.pending and i == take - 1)
        if n == 0:
            return
        batch.n_tokens = n
        rc = llama_cpp.llama_decode(self.ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        for slot, index in outputs:
            self._sampled(slot, index)

    def _evaluate_images(self) -> None:
        """Evaluate the image that comes next in each slot's prompt (one per slot per step): the
        projector encodes it and decodes its embeddings into the slot's sequence, outside the
        shared batch. A failed image fails its job only."""
        projector = self.model.projector
        if projector is None:
            return
        for slot in self.slots:
            job = slot.job
            if job is None or not job.pending or job.media is None:
                continue
            media = job.media.media.get(len(slot.cache))
            if media is None:
                continue
            try:
                projector.evaluate(self.ctx, media, slot.seq, self.n_ubatch, logits_last=False)
            except RuntimeError as err:
                job.emit({"error": str(err)})
                self._release(slot, keep_cache=False)
                continue
            slot.cache.extend(job.pending[: media.n_pos])
            job.pending = job.pending[media.n_pos :]

    def _sampled(self, slot: Slot, index: int) -> None:
        job = slot.job
        assert job is not None and job.sampler is not None and job.stop_text is not None
        if not job.generated:
            job.prompt_done = time.perf_counter()
        scores = log_softmax(self.ctx, index, self.model.n_vocab) if job.logprobs else None
        token = job.sampler.sample(self.ctx, index)
        if self.model.is_eog(token):
            self._finish(slot, "stop")
            return
        job.generated.append(token)
        piece = self.model.piece(token, special=token in job.preserved)
        text, stopped = job.stop_text.push(piece)
        if scores is not None:
            entry = token_logprob(scores, token, piece, job.top_logprobs, self.model.piece)
            job.emit({"content": text, "logprobs": [entry]})
        elif text:
            job.emit({"content": text})
        if stopped:
            self._finish(slot, "stop", flush=False)
        elif len(job.generated) >= job.limit:
            self._finish(slot, "length")

    def _shift(self, slot: Slot) -> bool:
        """Context shift: drop half of the tokens after ``num_keep`` to make room."""
        job = slot.job
        if not self.can_shift or job is None:
            return False
        num_keep = int(job.opts["num_keep"])
        keep = self.num_ctx // 2 if num_keep < 0 else min(num_keep, self.num_ctx // 2)
        discard = (len(slot.cache) - keep) // 2
        if discard <= 0:
            return False
        end = len(slot.cache)
        llama_cpp.llama_memory_seq_rm(self.mem, slot.seq, keep, keep + discard)
        llama_cpp.llama_memory_seq_add(self.mem, slot.seq, keep + discard, end, -discard)
        slot.cache = slot.cache[:keep] + slot.cache[keep + discard :]
        return True

    def _finish(self, slot: Slot, reason: str, *, flush: bool = True) -> None:
        job = slot.job
        assert job is not None and job.stop_text is not None
        tail = job.stop_text.flush() if flush else ""
        if tail:
            job.emit({"content": tail})
        now = time.perf_counter()
        prompt_done = job.prompt_done or now
        final: dict[str, Any] = {
            "done": True,
            "done_reason": reason,
            "prompt_eval_count": job.prompt_count,
            "prompt_eval_duration": int((prompt_done - job.started) * 1e9),
            "eval_count": len(job.generated),
            "eval_duration": int((now - prompt_done) * 1e9),
        }
        if job.want_context:  # an image's placeholders are no token ids: the context leaves them out
            final["context"] = [t for t in job.tokens if t >= 0] + job.generated
        job.emit(final)
        self._release(slot)
