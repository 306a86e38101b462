"""``python -m runner --socket PATH --load JSON``: serve one model until standard input closes.

The parent (the model server) holds the write end of our stdin; end of file there means it is
gone, and we exit at once (no orphan runners). (``PR_SET_PDEATHSIG`` is not used: it fires when
the spawning *thread* exits, which is not what we mean.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading

from runner.protocol import INFERENCE_MISSING, LoadOptions, inference_installed

__all__ = ["main"]


def _die_with_parent() -> None:
    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


async def _serve(socket_path: str, options: LoadOptions, quiet: bool) -> None:
    from runner.state import RunnerState, load_engine

    state = RunnerState(options=options)
    # Load the model (C code, GIL released) while aiohttp is imported and the socket opened.
    loader = threading.Thread(target=load_engine, args=(state,), kwargs={"quiet": quiet}, daemon=True)
    loader.start()
    from aiohttp import web

    from runner.server import build_app

    app_runner = web.AppRunner(build_app(state), handler_cancellation=True, access_log=None)
    await app_runner.setup()
    site = web.UnixSite(app_runner, socket_path)
    await site.start()
    print(f"runner listening on {socket_path}", file=sys.stderr, flush=True)
    await asyncio.to_thread(loader.join)
    if state.error:
        print(f"error: {state.error}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app_runner.cleanup()
    if state.engine is not None:
        state.engine.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point. Returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m runner")
    parser.add_argument("--socket", required=True, help="unix socket path to listen on")
    parser.add_argument("--load", required=True, help="LoadOptions as JSON")
    parser.add_argument("--verbose", action="store_true", help="show llama.cpp's logs")
    args = parser.parse_args(argv)
    options = LoadOptions.from_json(json.loads(args.load))
    if not inference_installed():
        print(f"error: {INFERENCE_MISSING}", file=sys.stderr, flush=True)
        return 3
    _die_with_parent()
    asyncio.run(_serve(args.socket, options, quiet=not args.verbose))
    sys.stderr.flush()
    os._exit(0)  # the parent-watch thread is blocked in read(); skip interpreter finalisation


if __name__ == "__main__":
    sys.exit(main())
