"""Hugging Face style Jinja chat templates (the GGUF's ``tokenizer.chat_template``), rendered in
jinja2's immutable sandbox so a template cannot reach Python internals."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NoReturn

__all__ = ["JinjaChatTemplate"]


def _raise(message: str) -> NoReturn:
    raise ValueError(f"chat template error: {message}")


class JinjaChatTemplate:
    """A compiled chat template. Raises ValueError (with jinja's message) for a template that
    does not compile, and from :meth:`render` for one that fails on the given messages."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.filters["tojson"] = lambda v, indent=None, ensure_ascii=False, **_: json.dumps(
            v, indent=indent, ensure_ascii=ensure_ascii
        )
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(source)
        except TemplateError as err:
            raise ValueError(f"invalid chat template: {err}") from err
        self._bos = bos_token
        self._eos = eos_token

    def render(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        think: bool | str | None = None,
    ) -> str:
        """The prompt for ``messages`` (OpenAI/HF shape) with the generation prompt added. A set
        ``think`` is passed as ``enable_thinking`` (Qwen's name) and, when a level,
        ``reasoning_effort``."""
        from jinja2 import TemplateError

        extra: dict[str, Any] = {}
        if think is not None:
            extra["enable_thinking"] = bool(think)
        if isinstance(think, str):
            extra["reasoning_effort"] = think
        try:
            return str(
                self._template.render(
                    messages=messages,
                    tools=tools or None,
                    add_generation_prompt=True,
                    bos_token=self._bos,
                    eos_token=self._eos,
                    **extra,
                )
            )
        except TemplateError as err:
            raise ValueError(f"chat template error: {err}") from err
        except RecursionError as err:
            raise ValueError("chat template error: nested too deeply") from err
        except (TypeError, AttributeError, KeyError, IndexError, OverflowError) as err:
            raise ValueError(f"chat template error: {err}") from err
