"""A tiny but real llama-architecture GGUF that llama.cpp loads and generates from (gibberish).

``write_tiny_gguf(path)`` writes, in well under a second, a model with a SentencePiece-style
("llama") tokenizer of a few hundred tokens (specials, all 256 byte tokens, some words), tiny
dimensions, 1-2 layers, a chat template and the usual hyper-parameters. The bytes depend only on
the arguments (seeded weights), so two calls with the same arguments write identical files.

The pytest fixture :func:`tiny_gguf` (session scoped) caches one F32 file per test session; import
it into a ``conftest.py`` to use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

__all__ = ["CHAT_TEMPLATE", "bpe_vocab", "tiny_gguf", "write_tiny_gguf"]

#: A Jinja chat template in the style of Hugging Face's (what llama.cpp reads from the GGUF).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '</s>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

_WORD_TEXT = (
    "the a an and of to in is it you that he was for on are with as I his they be at one have this "
    "from or had by hot word but what some we can out other were all there when up use your how said "
    "each she which do their time if will way about many then them write would like so these her long "
    "make thing see him two has look more day could go come did number sound no most people my over"
)

_FILE_TYPES = {"F32": 0, "F16": 1, "Q8_0": 7, "BF16": 32}


def _vocab() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types: <unk> <s> </s>, 256 byte tokens, then words (SPM style)."""
    tokens = ["<unk>", "<s>", "</s>"]
    types = [2, 3, 3]  # UNKNOWN, CONTROL, CONTROL
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256  # BYTE
    for word in _WORD_TEXT.split(" "):
        tokens.append("\u2581" + word)
        types.append(1)  # NORMAL
    tokens += ["\u2581", "<|user|>", "<|assistant|>", "<|system|>"]
    types += [1, 4, 4, 4]  # USER_DEFINED for the role markers
    scores = [0.0] * 259 + [-float(i) for i in range(len(tokens) - 259)]
    return tokens, scores, types


def _byte_chars() -> list[str]:
    """GPT-2's byte-level alphabet: byte ``i`` is the ``i``-th character (printable bytes stand for
    themselves, the others are shifted past U+0100)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def bpe_vocab(specials: list[str], *, space: str = "\u0120") -> tuple[list[str], list[int], list[str]]:
    """A byte-level BPE vocabulary (GPT-2 style, ``tokenizer.ggml.model = gpt2``): the ``specials``
    first (CONTROL), then the 256 byte characters, then the words of a small text with the merges
    that build them left to right, each word starting with ``space`` (GPT-2's "Ġ"; SentencePiece-style
    BPE vocabularies such as Gemma 4's use "▁", added as a token). Returns tokens, token types and
    merges."""
    tokens = list(specials)
    types = [3] * len(specials)
    tokens += _byte_chars()
    types += [1] * 256
    if space not in tokens:
        tokens.append(space)
        types.append(1)
    known = set(tokens)
    merges: list[str] = []
    for word in _WORD_TEXT.split(" "):
        current = space
        for ch in word:
            merged = current + ch
            if merged not in known:
                merges.append(f"{current} {ch}")
                tokens.append(merged)
                types.append(1)
                known.add(merged)
            current = merged
    return tokens, types, merges


def _tensor(writer: Any, name: str, array: np.ndarray[Any, Any], file_type: str) -> None:
    """Add a tensor, converting 2-D weights to the file type (1-D norms stay F32, as llama.cpp does)."""
    import gguf

    if array.ndim == 1 or file_type == "F32":
        writer.add_tensor(name, array.astype(np.float32))
    elif file_type == "F16":
        writer.add_tensor(name, array.astype(np.float16))
    else:
        qtype = gguf.GGMLQuantizationType[file_type]
        data = gguf.quants.quantize(array.astype(np.float32), qtype)
        writer.add_tensor(name, data, raw_shape=data.shape, raw_dtype=qtype)


def write_tiny_gguf(
    path: Path | str,
    *,
    file_type: str = "F32",
    arch: str = "llama",
    block_count: int = 1,
    embedding_length: int = 64,
    feed_forward_length: int = 128,
    head_count: int = 4,
    head_count_kv: int = 2,
    context_length: int = 256,
    chat_template: str | None = CHAT_TEMPLATE,
    name: str = "tiny",
    seed: int = 0,
    extra_kv: dict[str, Any] | None = None,
) -> Path:
    """Write a tiny GGUF model to ``path`` and return the path.

    ``file_type`` is one of F32, F16, BF16, Q8_0 (2-D weights; norms stay F32). ``arch`` is written as
    ``general.architecture`` and as the prefix of the hyper-parameter keys; anything but "llama"
    gives a file llama.cpp refuses (useful for unknown-architecture tests). ``extra_kv`` adds string,
    int, float or bool keys. Deterministic: same arguments, same bytes. Overwrites ``path``.
    """
    import gguf

    if file_type not in _FILE_TYPES:
        raise ValueError(f"file_type must be one of {sorted(_FILE_TYPES)}")
    out = Path(path)
    writer = gguf.GGUFWriter(out, arch)
    tokens, scores, types = _vocab()
    n_vocab, n_embd, n_ff = len(tokens), embedding_length, feed_forward_length
    n_embd_kv = n_embd // head_count * head_count_kv
    writer.add_name(name)
    writer.add_file_type(_FILE_TYPES[file_type])
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(block_count)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(head_count)
    writer.add_head_count_kv(head_count_kv)
    writer.add_rope_dimension_count(n_embd // head_count)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    for key, value in (extra_kv or {}).items():
        _add_kv(writer, key, value)
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray[Any, Any]:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    _tensor(writer, "token_embd.weight", weight(n_vocab, n_embd), file_type)
    _tensor(writer, "output_norm.weight", np.ones(n_embd, np.float32), file_type)
    _tensor(writer, "output.weight", weight(n_vocab, n_embd), file_type)
    for i in range(block_count):
        _tensor(writer, f"blk.{i}.attn_norm.weight", np.ones(n_embd, np.float32), file_type)
        _tensor(writer, f"blk.{i}.attn_q.weight", weight(n_embd, n_embd), file_type)
        _tensor(writer, f"blk.{i}.attn_k.weight", weight(n_embd_kv, n_embd), file_type)
        _tensor(writer, f"blk.{i}.attn_v.weight", weight(n_embd_kv, n_embd), file_type)
        _tensor(writer, f"blk.{i}.attn_output.weight", weight(n_embd, n_embd), file_type)
        _tensor(writer, f"blk.{i}.ffn_norm.weight", np.ones(n_embd, np.float32), file_type)
        _tensor(writer, f"blk.{i}.ffn_gate.weight", weight(n_ff, n_embd), file_type)
        _tensor(writer, f"blk.{i}.ffn_up.weight", weight(n_ff, n_embd), file_type)
        _tensor(writer, f"blk.{i}.ffn_down.weight", weight(n_embd, n_ff), file_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _add_kv(writer: Any, key: str, value: Any) -> None:
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    else:
        writer.add_string(key, str(value))


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One tiny F32 llama GGUF per test session (do not modify it; copy it first)."""
    yield write_tiny_gguf(tmp_path_factory.mktemp("tiny-gguf") / "tiny-f32.gguf")
