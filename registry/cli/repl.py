"""``ollama-py run``'s chat session and interactive REPL (Ollama's ``cmd/interactive.go``).

The REPL reads lines with :func:`input` (readline editing and history when available), prompt
``>>> ``, continuation ``... `` inside ``\"\"\"`` blocks. Commands: ``/set``, ``/show``, ``/load``,
``/save``, ``/clear``, ``/bye``, ``/?``.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Any, TextIO

from registry.cli.api_client import ApiClient, ApiError
from registry.errors import InvalidInput

__all__ = ["ChatSession", "ThinkingDisplay", "run_repl"]

_HELP = """Available Commands:
  /set            Set session variables
  /show           Show model information
  /load <model>   Load a session or model
  /save <model>   Save your current session
  /clear          Clear session context
  /bye            Exit
  /?, /help       Help for a command
  /? shortcuts    Help for keyboard shortcuts

Use \"\"\" to begin a multi-line message.
"""

_SET_HELP = """Available Commands:
  /set parameter ...     Set a parameter
  /set system <string>   Set system message
  /set history           Enable history
  /set nohistory         Disable history
  /set wordwrap          Enable wordwrap
  /set nowordwrap        Disable wordwrap
  /set format json       Enable JSON mode
  /set noformat          Disable formatting
  /set verbose           Show LLM stats
  /set quiet             Disable LLM stats
  /set think             Enable thinking
  /set nothink           Disable thinking
"""

_PARAM_HELP = """Available Parameters:
  /set parameter seed <int>             Random number seed
  /set parameter num_predict <int>      Max number of tokens to predict
  /set parameter top_k <int>            Pick from top k num of tokens
  /set parameter top_p <float>          Pick token based on sum of probabilities
  /set parameter min_p <float>          Pick token based on top token probability * min_p
  /set parameter num_ctx <int>          Set the context size
  /set parameter temperature <float>    Set creativity level
  /set parameter repeat_penalty <float> How strongly to penalize repetitions
  /set parameter repeat_last_n <int>    Set how far back to look for repetitions
  /set parameter num_gpu <int>          The number of layers to send to the GPU
  /set parameter stop <string> <string> ...   Set the stop parameters
"""

_SHOW_HELP = """Available Commands:
  /show info         Show details for this model
  /show license      Show model license
  /show modelfile    Show Modelfile for this model
  /show parameters   Show parameters for this model
  /show system       Show system message
  /show template     Show prompt template
"""


class ChatSession:
    """The conversation state of one ``run``: model, messages, options, display flags."""

    def __init__(
        self,
        client: ApiClient,
        model: str,
        *,
        out: TextIO,
        err: TextIO,
        fmt: str = "",
        keep_alive: str | None = None,
        verbose: bool = False,
        wordwrap: bool = True,
        show: dict[str, Any] | None = None,
        think: bool | str | None = None,
        hide_thinking: bool = False,
    ) -> None:
        self.client = client
        self.model = model
        self.out = out
        self.err = err
        self.fmt = fmt
        self.keep_alive = keep_alive
        self.verbose = verbose
        self.wordwrap = wordwrap
        self.history = True
        self.show = show or {}
        self.options: dict[str, Any] = {}
        self.system: str | None = None
        self.messages: list[dict[str, Any]] = []
        self.think = think  # None: the model's default (a thinking model thinks)
        self.hide_thinking = hide_thinking

    def _request(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "options": self.options}
        if self.fmt:
            body["format"] = self.fmt
        if self.keep_alive is not None:
            body["keep_alive"] = self.keep_alive
        if self.think is not None:
            body["think"] = self.think
        return body

    def load(self) -> None:
        """Load the model (an empty chat) so the first answer comes quickly; a spinner meanwhile."""
        from registry.cli.spinner import Spinner

        with Spinner(self.err):
            self.client.call("POST", "/api/chat", {**self._request(), "messages": [], "stream": False})

    @property
    def multimodal(self) -> bool:
        """Whether the model can see (image paths in a prompt are then sent as images)."""
        return "vision" in (self.show.get("capabilities") or [])

    def send(self, text: str) -> None:
        """Send a user message and print the streamed answer (plus stats when verbose). Thinking is
        printed before the answer between ``Thinking...`` and ``...done thinking.`` (grey and bold
        on a terminal, as Ollama's CLI), unless ``hide_thinking``; it is not kept in the history.
        For a model that can see, image paths in ``text`` are sent as images (see
        :mod:`registry.cli.image_files`).

        Raises:
            InvalidInput: a named image file cannot be sent.
        """
        messages = list(self.messages)
        if self.system is not None:
            messages.insert(0, {"role": "system", "content": self.system})
        user: dict[str, Any] = {"role": "user", "content": text}
        if self.multimodal:
            from registry.cli.image_files import extract_images

            user["content"], images = extract_images(text, self.err)
            if images:
                user["images"] = images
        messages.append(user)
        reply: list[str] = []
        final: dict[str, Any] = {}
        column = 0
        width = shutil.get_terminal_size((80, 24)).columns
        thinking = ThinkingDisplay(self.out)
        from registry.cli.spinner import Spinner

        spinner = Spinner(self.err).start()  # until the first piece of the answer
        try:
            events = self.client.stream("/api/chat", {**self._request(), "messages": messages})
            for event in events:
                message = event.get("message") or {}
                piece = message.get("content", "")
                thought = "" if self.hide_thinking else message.get("thinking", "")
                if piece or thought or event.get("done"):
                    spinner.stop()
                if thought:
                    thinking.open()
                    column = self._write(thought, column, width)
                if piece or message.get("tool_calls"):
                    if thinking.close():
                        column = 0
                reply.append(piece)
                column = self._write(piece, column, width)
                if event.get("done"):
                    final = event
        finally:
            spinner.stop()
        if thinking.close():
            column = 0
        self.out.write("\n\n" if column or reply else "\n")
        self.out.flush()
        self.messages += [user, {"role": "assistant", "content": "".join(reply)}]
        if self.verbose:
            from registry.cli.server_commands import format_metrics

            print(format_metrics(final), file=self.err, flush=True)

    def _write(self, piece: str, column: int, width: int) -> int:
        if not self.wordwrap:
            self.out.write(piece)
            self.out.flush()
            return column + len(piece)
        for ch in piece:
            if ch == "\n":
                column = 0
            elif ch == " " and column >= width - 10:
                ch, column = "\n", 0
            else:
                column += 1
            self.out.write(ch)
        self.out.flush()
        return column


#: Ollama's CLI colours (``readline.ColorGrey``, ``ColorBold``, ``ColorDefault``).
_GREY, _BOLD, _DEFAULT = "\033[38;5;245m", "\033[1m", "\033[0m"


class ThinkingDisplay:
    """The frame around a reply's thinking: ``Thinking...`` before it and ``...done thinking.``
    after it (Ollama's text), grey on a terminal and plain text otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.colour = bool(getattr(out, "isatty", lambda: False)())
        self.opened = False
        self.closed = False
        self.last = "\n"

    def open(self) -> None:
        """Print the opening text once, before the first thinking."""
        if self.opened:
            return
        self.opened = True
        text = "Thinking...\n"
        self.out.write(_GREY + _BOLD + text + _DEFAULT + _GREY if self.colour else text)

    def close(self) -> bool:
        """Print the closing text once, after thinking was shown; True when it printed it."""
        if not self.opened or self.closed:
            return False
        self.closed = True
        text = "...done thinking.\n\n"
        self.out.write("\n" + (_GREY + _BOLD + text + _DEFAULT if self.colour else text))
        self.out.flush()
        return True


def _set_think(session: ChatSession, what: str, rest: list[str]) -> str:
    """``/set think [level]`` and ``/set nothink`` (a warning when the model cannot think)."""
    if what == "nothink":
        session.think = False
    else:
        session.think = rest[0] if rest else True
    caps = session.show.get("capabilities")
    if isinstance(caps, list) and "thinking" not in caps:
        print(f'warning: model "{session.model}" does not support thinking output', file=session.err)
    if what == "nothink":
        return "Set 'nothink' mode."
    return f"Set 'think' mode to '{rest[0]}'." if rest else "Set 'think' mode."


def _set(session: ChatSession, args: list[str]) -> str:
    if not args:
        return _SET_HELP
    what, rest = args[0], args[1:]
    simple = {
        "history": ("history", True, "Set history."),
        "nohistory": ("history", False, "Set nohistory."),
        "wordwrap": ("wordwrap", True, "Set 'wordwrap' mode."),
        "nowordwrap": ("wordwrap", False, "Set 'nowordwrap' mode."),
        "verbose": ("verbose", True, "Set 'verbose' mode."),
        "quiet": ("verbose", False, "Set 'quiet' mode."),
    }
    if what in simple:
        attr, value, message = simple[what]
        setattr(session, attr, value)
        return message
    if what == "format":
        if rest == ["json"]:
            session.fmt = "json"
            return "Set format to 'json' mode."
        return "Invalid or missing format. For 'json' mode use '/set format json'"
    if what == "noformat":
        session.fmt = ""
        return "Disabled format."
    if what in ("think", "nothink"):
        return _set_think(session, what, rest)
    if what == "system":
        session.system = " ".join(rest)
        return "Set system message."
    if what == "parameter":
        return _set_parameter(session, rest)
    return f"Unknown command '/set {what}'. Type /? for help"


def _set_parameter(session: ChatSession, args: list[str]) -> str:
    if len(args) < 2:
        return _PARAM_HELP
    from registry.modelfile.parameters import parse_parameter

    name, values = args[0], args[1:]
    try:
        if name == "stop":
            session.options["stop"] = values
        else:
            session.options[name] = parse_parameter(name, " ".join(values))
    except ValueError as err:
        return f'Couldn\'t set parameter: "{err}"'
    return f"Set parameter '{name}' to '{', '.join(values)}'"


def _show(session: ChatSession, args: list[str]) -> str:
    if not args:
        return _SHOW_HELP
    try:
        show = session.client.call("POST", "/api/show", {"model": session.model})
    except ApiError as err:
        return f"error: {err}"
    what = args[0]
    if what == "info":
        from registry.cli.show_layout import render_show_info

        return render_show_info(show).rstrip("\n")
    if what == "license":
        return show.get("license") or "No license was specified for this model."
    if what == "modelfile":
        return str(show.get("modelfile", ""))
    if what == "system":
        return session.system or show.get("system") or "No system message was specified for this model."
    if what == "template":
        return show.get("template") or "No prompt template was specified for this model."
    if what == "parameters":
        out = [
            "Model defined parameters:",
            show.get("parameters") or "No parameters were specified for this model.",
        ]
        if session.options:
            out += ["", "User defined parameters:"] + [f"{k:<30} {v}" for k, v in session.options.items()]
        return "\n".join(out)
    return f"Unknown command '/show {what}'. Type /? for help"


def _load(session: ChatSession, args: list[str]) -> str:
    if not args:
        return "Usage:\n  /load <modelname>"
    model = args[0]
    print(f"Loading model '{model}'", file=session.out, flush=True)
    previous = session.model
    session.model = model
    try:
        session.load()
    except ApiError as err:
        session.model = previous
        return f"Couldn't find model '{model}'" if err.status == 404 else f"error: {err}"
    session.messages = []
    return ""


def _save(session: ChatSession, args: list[str]) -> str:
    if not args:
        return "Usage:\n  /save <modelname>"
    body: dict[str, Any] = {
        "model": args[0],
        "from": session.model,
        "messages": session.messages,
        "stream": False,
    }
    if session.system is not None:
        body["system"] = session.system
    if session.options:
        body["parameters"] = session.options
    try:
        session.client.call("POST", "/api/create", body)
    except ApiError as err:
        if err.status == 400 and "invalid" in str(err).lower():
            return f"error: The model name '{args[0]}' is invalid"
        return f"error: {err}"
    return f"Created new model '{args[0]}'"


def command(session: ChatSession, line: str) -> str | None:
    """Run one ``/command``; returns the text to print, or None to quit."""
    words = line.split()
    name, args = words[0], words[1:]
    if name in ("/bye", "/exit"):
        return None
    if name in ("/?", "/help"):
        if args and args[0] == "set":
            return _SET_HELP
        if args and args[0] == "show":
            return _SHOW_HELP
        return _HELP
    if name == "/set":
        return _set(session, args)
    if name == "/show":
        return _show(session, args)
    if name == "/clear":
        session.messages = []
        return "Cleared session context"
    if name == "/load":
        return _load(session, args)
    if name == "/save":
        return _save(session, args)
    return f"Unknown command '{name}'. Type /? for help"


def _read_message(first: str) -> str:
    """A message that may span lines between triple quotes."""
    body = first[3:]
    if body.endswith('"""') and len(body) >= 3:
        return body[:-3]
    lines = [body] if body else []
    while True:
        line = input("... ")
        if line.endswith('"""'):
            lines.append(line[:-3])
            return "\n".join(lines)
        lines.append(line)


PLACEHOLDER = "Send a message (/? for help)"

#: Keys read while the placeholder shows that end the line or the session at once.
_CTRL_C, _CTRL_D, _ENTER = "\x03", "\x04", ("\r", "\n")


def _first_key(stdin: TextIO, out: TextIO, prompt: str, placeholder: str) -> str:
    """Show ``prompt`` and the placeholder (dim) after it, wait for one key in cbreak mode, erase the
    placeholder; returns the key (several characters for an escape sequence such as an arrow)."""
    import os
    import select
    import termios
    import tty

    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    out.write(f"{prompt}\x1b[2m{placeholder}\x1b[0m\r\x1b[{len(prompt)}C")
    out.flush()
    try:
        tty.setcbreak(fd)
        key = os.read(fd, 1)
        while key.startswith(b"\x1b") and select.select([fd], [], [], 0.05)[0]:
            key += os.read(fd, 8)
        while key and key[0] >= 0xC0 and len(key) < 4 and select.select([fd], [], [], 0.05)[0]:
            key += os.read(fd, 1)  # the rest of a UTF-8 character
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        out.write("\r\x1b[K")
        out.flush()
    return key.decode("utf-8", errors="replace")


def _read_line(readline: Any, out: TextIO, placeholder: bool) -> str:
    """One line after ``>>> ``. On a terminal with readline, an empty prompt shows Ollama's
    placeholder until the first key, which then starts the line as if typed (an arrow key recalls
    the last history entry, Ctrl-C and Ctrl-D act as usual).

    Raises EOFError, KeyboardInterrupt as :func:`input` does."""
    if not placeholder or readline is None or not sys.stdin.isatty() or not out.isatty():
        return input(">>> ")
    key = _first_key(sys.stdin, out, ">>> ", PLACEHOLDER)
    if key == _CTRL_D:
        raise EOFError
    if key == _CTRL_C:
        raise KeyboardInterrupt
    if key in _ENTER:
        out.write(">>> \n")
        return ""
    if key in ("\x1b[A", "\x1bOA"):
        length = readline.get_current_history_length()
        key = (readline.get_history_item(length) or "") if length else ""
    elif not key.isprintable():
        key = ""
    readline.set_startup_hook(lambda: readline.insert_text(key))
    try:
        return input(">>> ")
    finally:
        readline.set_startup_hook(None)


def _names_an_image(line: str) -> bool:
    """Whether a ``/...`` line names an existing image file (Ollama sends it as a prompt)."""
    from registry.cli.image_files import names_an_image

    return names_an_image(line)


def run_repl(session: ChatSession, *, history: bool, history_file: Path) -> int:
    """The interactive loop; returns the exit status."""
    readline: Any = None
    with contextlib.suppress(ImportError):
        import readline as _readline

        readline = _readline
    if readline is not None and history:
        with contextlib.suppress(OSError):
            readline.read_history_file(history_file)
    try:
        while True:
            try:
                line = _read_line(readline, session.out, placeholder=True)
            except EOFError:
                print(file=session.out)
                return 0
            except KeyboardInterrupt:
                print("\nUse Ctrl + d or /bye to exit.", file=session.out, flush=True)
                continue
            if not line.strip():
                continue
            if line.startswith('"""'):
                line = _read_message(line)
            elif line.startswith("/") and not (session.multimodal and _names_an_image(line)):
                result = command(session, line)
                if result is None:
                    return 0
                if result:
                    print(result, file=session.out, flush=True)
                continue
            try:
                session.send(line)
            except KeyboardInterrupt:
                print(file=session.out, flush=True)
            except (ApiError, InvalidInput) as err:
                print(f"Error: {err}", file=sys.stderr, flush=True)
    finally:
        if readline is not None and history and session.history:
            with contextlib.suppress(OSError):
                history_file.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(history_file)
