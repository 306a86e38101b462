"""Commands that run or talk to the model server: ``serve``, ``run``, ``ps``, ``stop``.

``run``, ``ps`` and ``stop`` use the server at ``OLLAMA_HOST`` when one answers; with none, ``run``
starts the server in this process over ``OLLAMA_MODELS`` for as long as it runs, ``ps`` lists
nothing and ``stop`` only checks the name (see ``registry.cli.model_store``).

Top-level imports stay light (``--help`` must be fast); aiohttp and the server are imported in
the handlers.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from registry.cli.context import CliContext

__all__ = ["SERVE_ENVIRONMENT", "format_metrics", "register"]

#: ``serve --help``'s list of the environment variables it reads, with their defaults.
SERVE_ENVIRONMENT = """environment variables (default in brackets):
  OLLAMA_HOST               where to listen, [scheme://]host[:port] [127.0.0.1:11434]
  OLLAMA_MODELS             the store's directory [~/.ollama-py/models]
  OLLAMA_PY_DATABASE_URL    the catalog, e.g. postgresql+psycopg://user@host/db [SQLite in the store]
  OLLAMA_KEEP_ALIVE         how long an idle model stays loaded, e.g. 10m, -1 forever [5m]
  OLLAMA_NUM_PARALLEL       requests one loaded model serves at once [1]
  OLLAMA_MAX_LOADED_MODELS  models loaded at once [3]
  OLLAMA_MAX_QUEUE          requests waiting before 503 [512]
  OLLAMA_CONTEXT_LENGTH     context length when the request sets none [4096]
  OLLAMA_LOAD_TIMEOUT       give up on a load that makes no progress for this long [5m]
  OLLAMA_ORIGINS            CORS origins allowed besides the local ones, comma-separated [none]
  OLLAMA_NOPRUNE            keep unused blobs after a pull [false]
  OLLAMA_DEBUG              debug logging, 1 or 2 [0]"""


def register(sub: Any) -> None:
    """Add ``serve``, ``run``, ``ps`` and ``stop``."""
    p = sub.add_parser(
        "serve",
        aliases=["start"],
        help="Start the model server (OLLAMA_HOST)",
        description="Serve Ollama's and OpenAI's APIs over the store at OLLAMA_MODELS until SIGINT or "
        "SIGTERM; every model command of this CLI then goes through it.",
        epilog=SERVE_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=cmd_serve)
    p = sub.add_parser(
        "run",
        help="Run a model",
        description="Chat with MODEL: one answer for a PROMPT (or piped standard input), else the >>> "
        "REPL (/? for help). Uses the server at OLLAMA_HOST when one answers; with none, starts the "
        "server in this process over OLLAMA_MODELS. A model that is not here is pulled first.",
    )
    p.add_argument("model", help="the model's name")
    p.add_argument("prompt", nargs="*", help="the message (words are joined); none: interactive")
    p.add_argument("--verbose", action="store_true", help="show timings for the response")
    p.add_argument("--format", default="", help='response format (e.g. "json")')
    p.add_argument("--keepalive", default=None, help="how long to keep the model loaded (e.g. 5m)")
    p.add_argument("--nowordwrap", action="store_true", help="don't wrap words to the next line")
    p.add_argument("--insecure", action="store_true", help="use an insecure registry when pulling")
    p.add_argument(
        "--think",
        default=None,
        metavar="true|false|high|medium|low|max",
        help="enable thinking mode: --think (true), --think=false, or a level for models that take one",
    )
    p.add_argument("--hidethinking", action="store_true", help="hide thinking output (if provided)")
    p.set_defaults(handler=cmd_run)
    p = sub.add_parser("ps", help="List running models")
    p.set_defaults(handler=cmd_ps)
    p = sub.add_parser("stop", help="Stop a running model")
    p.add_argument("model", help="the model to unload now")
    p.set_defaults(handler=cmd_stop)


def cmd_serve(args: argparse.Namespace, ctx: CliContext) -> int:
    """Run the model server until SIGINT/SIGTERM; runners are killed on the way out."""
    import asyncio
    import logging

    logging.basicConfig(level=logging.DEBUG if ctx.settings.debug else logging.INFO, format="%(message)s")
    asyncio.run(_serve(ctx))
    return 0


async def _serve(ctx: CliContext) -> None:
    import asyncio
    import signal

    from aiohttp import web

    from registry.cli.transfer_environment import transfer_options
    from registry.modelserver.api import keys
    from registry.modelserver.api.app import build_app
    from registry.version import VERSION

    settings = ctx.settings
    app = build_app(settings, ctx.library)
    # /api/pull, /api/push and /api/create: the CLI's credentials, CA bundle and signing key
    app[keys.TRANSFER_OPTIONS] = transfer_options(settings.home)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host.host, settings.host.port)
    try:
        await site.start()
    except OSError as err:
        await runner.cleanup()
        from registry.errors import InvalidInput

        raise InvalidInput(f"listen tcp {settings.host.host}:{settings.host.port}: {err.strerror}") from err
    print(
        f"Listening on {settings.host.host}:{settings.host.port} (version {VERSION})",
        file=sys.stderr,
        flush=True,
    )
    from runner.protocol import INFERENCE_MISSING, inference_installed

    if not inference_installed():
        print(
            f"warning: {INFERENCE_MISSING} (models can be created, listed, pulled and pushed, not run)",
            file=sys.stderr,
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def _duration(ns: int) -> str:
    from registry.durations import format_go_duration

    return format_go_duration(ns / 1e9)


def format_metrics(final: dict[str, Any]) -> str:
    """Ollama's ``api.Metrics.Summary`` text."""
    lines = []
    for key, label in (("total_duration", "total duration"), ("load_duration", "load duration")):
        if key in final:
            lines.append(f"{label + ':':<22}{_duration(int(final[key]))}")
    for prefix in ("prompt eval", "eval"):
        key = prefix.replace(" ", "_")
        count, duration = int(final.get(f"{key}_count", 0)), int(final.get(f"{key}_duration", 0))
        if count:
            lines.append(f"{prefix + ' count:':<22}{count} token(s)")
        if duration:
            lines.append(f"{prefix + ' duration:':<22}{_duration(duration)}")
            lines.append(f"{prefix + ' rate:':<22}{count / (duration / 1e9):.2f} tokens/s")
    return "\n".join(lines)


def _ensure_model(client: Any, model: str, ctx: CliContext, *, insecure: bool = False) -> dict[str, Any]:
    """``/api/show``; on 404 pull the model (when the server has ``/api/pull``; plain http with
    ``insecure``), then show again. A pull that fails says what to do next."""
    from registry.cli.api_client import ApiError

    try:
        return dict(client.call("POST", "/api/show", {"model": model}))
    except ApiError as err:
        if err.status != 404:
            raise
    try:
        request: dict[str, Any] = {"model": model, **({"insecure": True} if insecure else {})}
        for event in client.stream("/api/pull", request):
            status = event.get("status", "")
            if status:
                print(status, file=ctx.err, flush=True)
    except ApiError as err:
        from registry.cli.next_steps import FIRST_MODEL

        if err.status in (404, 405):
            raise ApiError(404, f"model '{model}' not found") from None
        raise ApiError(
            err.status,
            f"model '{model}' is not in {ctx.models.where} and pulling it failed: {err}\n\n"
            + FIRST_MODEL.replace("No models yet. To get a first model:", "To get a model:"),
        ) from None
    return dict(client.call("POST", "/api/show", {"model": model}))


def _think_flag(value: str | None) -> bool | str | None:
    """``--think``'s value as the API's ``think`` (None: not given). Raises InvalidInput."""
    if value is None:
        return None
    if value in ("", "true"):
        return True
    if value == "false":
        return False
    if value in ("high", "medium", "low", "max"):
        return value
    from registry.errors import InvalidInput

    raise InvalidInput(
        f'invalid value for --think: "{value}" (must be true, false, high, medium, low, or max)'
    )


def cmd_run(args: argparse.Namespace, ctx: CliContext) -> int:
    """One-shot with a prompt or piped stdin; otherwise the interactive REPL."""
    from registry.cli.repl import ChatSession, run_repl

    if args.format not in ("", "json"):
        from registry.errors import InvalidInput

        raise InvalidInput(f'invalid format "{args.format}": only "json" is supported')
    think = _think_flag(args.think)
    client = ctx.models.chat_client()
    show = _ensure_model(client, args.model, ctx, insecure=args.insecure)
    session = ChatSession(
        client,
        args.model,
        out=ctx.out,
        err=ctx.err,
        fmt=args.format,
        keep_alive=args.keepalive,
        verbose=args.verbose,
        wordwrap=not args.nowordwrap,
        show=show,
        think=think,
        hide_thinking=args.hidethinking,
    )
    prompt = " ".join(args.prompt)
    interactive = not prompt and sys.stdin.isatty()
    if not interactive:
        if not sys.stdin.isatty():
            piped = sys.stdin.read()
            prompt = f"{piped} {prompt}".strip() if prompt else piped
        session.wordwrap = False
        session.send(prompt)
        return 0
    session.load()
    return run_repl(
        session, history=not ctx.settings.nohistory, history_file=ctx.settings.home / ".ollama-py" / "history"
    )


def cmd_ps(args: argparse.Namespace, ctx: CliContext) -> int:
    """Table ``NAME ID SIZE PROCESSOR CONTEXT PARALLEL UNTIL`` (Ollama's, with the runner's slots)."""
    from datetime import datetime

    from registry.cli.humanize import human_bytes, human_duration

    models = ctx.models.running()
    rows = [["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "PARALLEL", "UNTIL"]]
    now = time.time()
    for m in models:
        until = datetime.fromisoformat(m["expires_at"].replace("Z", "+00:00")).timestamp()
        if until - now > 50 * 365 * 86400:
            when = "Forever"
        elif until <= now:
            when = "Stopping..."
        else:
            when = f"{human_duration(until - now)} from now"
        rows.append(
            [
                m["name"],
                m["digest"][:12],
                human_bytes(int(m["size"])),
                "100% CPU",
                str(m["context_length"]),
                str(m.get("parallel", "")),
                when,
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        ctx.print("    ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_stop(args: argparse.Namespace, ctx: CliContext) -> int:
    """Unload a model now (generate with ``keep_alive: 0``); with no server nothing is loaded."""
    from registry.errors import ModelNotFound

    try:
        ctx.models.stop(args.model)
    except ModelNotFound:
        raise ModelNotFound(f'couldn\'t find model "{args.model}" to stop') from None
    return 0
