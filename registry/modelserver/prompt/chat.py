"""Turning requests into prompt text with a model's template.

A model's template is its Modelfile ``TEMPLATE`` (Go template syntax, as Ollama) when it has one,
else the GGUF's ``tokenizer.chat_template`` (Jinja, sandboxed), else ``{{ .Prompt }}``.
Templates are compiled by :meth:`PromptTemplate.for_model`, so a broken one is an error when the
model loads, not garbage output.

Messages use Ollama's JSON shape: ``{"role", "content", "tool_calls"?, "tool_name"?, "images"?}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.modelserver.prompt.gotemplate import Budget, JsonValue, Template, TemplateError, parse
from registry.modelserver.prompt.jinja import JinjaChatTemplate
from registry.modelserver.prompt.thinking import thinking_tags
from registry.modelserver.prompt.tool_stream import tool_call_tag

__all__ = ["DEFAULT_TEMPLATE", "PromptTemplate", "TemplateError", "Think", "think_values", "tool_names"]

DEFAULT_TEMPLATE = "{{ .Prompt }}"
_RESPONSE_MARK = "\x00RESPONSE\x00"
#: A request's ``think``: absent (None), true/false, or a level ("low", "medium", "high").
Think = bool | str | None


def think_values(think: Think) -> dict[str, Any]:
    """The thinking keys Ollama puts in a template's values: ``Think`` (true for true or a level),
    ``ThinkLevel`` (the level; true is ``"medium"``) and ``IsThinkSet`` (the request said)."""
    level = think if isinstance(think, str) else ("medium" if think is True else "")
    return {"Think": bool(think), "ThinkLevel": level, "IsThinkSet": think is not None}


#: Ollama's ``api.Tool`` struct: the zero value of each field a tool's JSON may leave out.
_TOOL_FIELDS: dict[str, Any] = {
    "Type": "",
    "Function": {
        "Name": "",
        "Description": "",
        "Parameters": {"Type": "", "Required": [], "Properties": {}},
    },
}


def _go_message(m: dict[str, Any]) -> dict[str, Any]:
    """A message as Ollama's ``api.Message`` struct: every field present (a Go struct prints its
    zero value, ``""``, for a field the JSON left out; only a map prints ``<no value>``)."""
    calls = []
    for call in m.get("tool_calls") or []:
        fn = call.get("function") or {}
        calls.append(
            {
                "ID": call.get("id") or "",
                "Function": {
                    "Index": fn.get("index") or 0,
                    "Name": fn.get("name") or "",
                    "Arguments": JsonValue(fn.get("arguments") or {}),
                },
            }
        )
    return {
        "Role": m.get("role") or "",
        "Content": m.get("content") or "",
        "Thinking": m.get("thinking") or "",
        "Images": m.get("images") or None,
        "ToolCalls": calls or None,
        "ToolName": m.get("tool_name") or "",
        "ToolCallID": m.get("tool_call_id") or "",
    }


def _hf_message(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.get("role", "user"), "content": m.get("content", "")}
    if m.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": c.get("id", ""),
                "type": "function",
                "function": {
                    "name": (c.get("function") or {}).get("name", ""),
                    "arguments": (c.get("function") or {}).get("arguments", {}),
                },
            }
            for c in m["tool_calls"]
        ]
    if m.get("tool_name"):
        out["name"] = m["tool_name"]
    if m.get("tool_call_id"):
        out["tool_call_id"] = m["tool_call_id"]
    if m.get("thinking"):
        out["reasoning_content"] = m["thinking"]
    return out


@dataclass(frozen=True)
class PromptTemplate:
    """A compiled template of one of two kinds (``go`` or ``jinja``)."""

    kind: str
    source: str
    go: Template | None = None
    jinja: JinjaChatTemplate | None = None

    @classmethod
    def for_model(
        cls, modelfile_template: str | None, gguf_template: str | None, *, bos: str = "", eos: str = ""
    ) -> PromptTemplate:
        """Compile the model's template.

        Raises:
            TemplateError: the template does not parse (the message says where).
        """
        if modelfile_template:
            return cls("go", modelfile_template, go=parse(modelfile_template))
        if gguf_template:
            try:
                return cls(
                    "jinja",
                    gguf_template,
                    jinja=JinjaChatTemplate(gguf_template, bos_token=bos, eos_token=eos),
                )
            except ValueError as err:
                raise TemplateError(str(err)) from err
        return cls("go", DEFAULT_TEMPLATE, go=parse(DEFAULT_TEMPLATE))

    @classmethod
    def from_go(cls, source: str) -> PromptTemplate:
        """A Go template given by a request (``/api/generate`` ``template``). Raises TemplateError."""
        return cls("go", source, go=parse(source))

    @property
    def thinking_tags(self) -> tuple[str, str]:
        """The tags around the model's thinking, ``("", "")`` when it has none: for a Go template
        as Ollama infers them (:func:`thinking_tags`); a Jinja template that writes ``<think>`` and
        ``</think>`` has those."""
        if self.go is not None:
            return thinking_tags(self.go.nodes)
        if "<think>" in self.source and "</think>" in self.source:
            return "<think>", "</think>"
        return "", ""

    @property
    def tool_call_tag(self) -> str | None:
        """The text a Go template writes before tool calls (:func:`tool_call_tag`); None for a
        Jinja template (the usual markers are looked for)."""
        return tool_call_tag(self.go.nodes) if self.go is not None else None

    @property
    def uses_messages(self) -> bool:
        """True when the template iterates ``.Messages`` (or is Jinja)."""
        return self.kind == "jinja" or ".Messages" in self.source

    def render_chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        think: Think = None,
        budget: Budget | None = None,
    ) -> str:
        """The prompt for a conversation, ending where the assistant's reply begins. A Go template
        renders within ``budget`` (default: a fresh :class:`Budget`), however many turns it takes.
        ``think`` fills the template's thinking values (:func:`think_values`; a Jinja template gets
        ``enable_thinking`` and ``reasoning_effort`` when it is set).

        Raises:
            TemplateError: rendering failed or went beyond its budget.
        """
        budget = budget or Budget()
        if self.jinja is not None:
            try:
                return self.jinja.render([_hf_message(m) for m in messages], tools=tools, think=think)
            except ValueError as err:
                raise TemplateError(str(err)) from err
        assert self.go is not None
        system = "\n\n".join(m.get("content", "") for m in messages if m.get("role") == "system")
        go_tools = [JsonValue(t, _TOOL_FIELDS) for t in tools] if tools else None
        if self.uses_messages:
            data = {
                "System": system,
                "Messages": [_go_message(m) for m in messages],
                "Tools": go_tools,
                "Prompt": "",
                "Response": "",
                "Suffix": "",
                **think_values(think),
            }
            return self.go.execute(data, budget)
        return self._legacy(messages, system, go_tools, budget, think_values(think))

    def _legacy(
        self, messages: list[dict[str, Any]], system: str, tools: Any, budget: Budget, thinks: dict[str, Any]
    ) -> str:
        """Templates without ``.Messages``: one render per user turn (Ollama's collation)."""
        assert self.go is not None
        parts: list[str] = []
        prompt: str | None = None
        for m in messages:
            role = m.get("role")
            if role == "user" or role == "tool":
                if prompt is not None:
                    parts.append(self._turn(system, prompt, "", tools, budget, thinks, cut=False))
                prompt = m.get("content", "")
            elif role == "assistant":
                parts.append(
                    self._turn(system, prompt or "", m.get("content", ""), tools, budget, thinks, cut=False)
                )
                prompt = None
        parts.append(self._turn(system, prompt or "", _RESPONSE_MARK, tools, budget, thinks, cut=True))
        return "".join(parts)

    def _turn(
        self,
        system: str,
        prompt: str,
        response: str,
        tools: Any,
        budget: Budget,
        thinks: dict[str, Any],
        *,
        cut: bool,
    ) -> str:
        assert self.go is not None
        text = self.go.execute(
            {
                "System": system,
                "Prompt": prompt,
                "Response": response,
                "Tools": tools,
                "Messages": None,
                "Suffix": "",
                **thinks,
            },
            budget,
        )
        if cut:
            idx = text.find(_RESPONSE_MARK)
            return text[:idx] if idx >= 0 else text
        if ".Response" not in self.source:
            text += response
        return text

    def render_generate(
        self,
        prompt: str,
        *,
        system: str | None = None,
        suffix: str = "",
        think: Think = None,
        budget: Budget | None = None,
    ) -> str:
        """The prompt for ``/api/generate`` (not raw), within ``budget`` as :meth:`render_chat`. With
        a prompt and a ``suffix`` a Go template gets only ``Prompt``, ``Suffix`` and ``Response``
        (Ollama's fill-in-the-middle values, also for a template that iterates ``.Messages``).

        Raises:
            TemplateError: rendering failed or went beyond its budget.
        """
        budget = budget or Budget()
        if self.go is not None and prompt and suffix:
            return self.go.execute(
                {"Prompt": prompt, "Suffix": suffix, "Response": "", **think_values(think)}, budget
            )
        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        if self.uses_messages:
            return self.render_chat(messages, think=think, budget=budget)
        assert self.go is not None
        text = self.go.execute(
            {
                "System": system or "",
                "Prompt": prompt,
                "Response": _RESPONSE_MARK,
                "Suffix": suffix,
                "Messages": None,
                "Tools": None,
                **think_values(think),
            },
            budget,
        )
        idx = text.find(_RESPONSE_MARK)
        return text[:idx] if idx >= 0 else text


def tool_names(tools: list[dict[str, Any]] | None) -> list[str]:
    """The function names declared in ``tools``."""
    return [str((t.get("function") or {}).get("name", "")) for t in tools or [] if isinstance(t, dict)]
