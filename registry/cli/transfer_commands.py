"""Transfer commands: pull, push (with per-layer progress bars), export and import archives.

``pull`` and ``push`` go through the server at ``OLLAMA_HOST`` when one answers, else run in
process on ``OLLAMA_MODELS`` (see ``registry.cli.model_store``); ``export`` and ``import`` always
run in process. Environment read here (the composition
root): ``~/.ollama/id_ed25519`` (Ollama's key, signs token requests to ollama.com), ``DOCKER_CONFIG`` (directory of ``config.json`` with registry credentials, default
``~/.docker``) and ``OLLAMA_PY_CA_BUNDLE`` (PEM file of extra trusted CAs; ``--ca-bundle`` wins).
HTTPS_PROXY / NO_PROXY are honoured by the transport.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.cli.context import CliContext

if TYPE_CHECKING:
    from collections.abc import Iterator

    from registry.remote.options import TransferOptions

__all__ = ["parse_rate", "register"]

_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}


def parse_rate(text: str) -> float:
    """``10M``, ``500KB/s``, ``1.5MiB`` -> bytes per second.

    Raises:
        argparse.ArgumentTypeError: for anything else (argparse prints it).
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?)?b?(?:/s)?\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid rate {text!r}: use e.g. 500K, 10M or 1.5MiB (bytes per second)"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or ""]


def register(sub: Any) -> None:
    """Add pull, push, export and import to the ``ollama-py`` parser."""
    for command, what in (("pull", "Pull a model from a registry"), ("push", "Push a model to a registry")):
        p = sub.add_parser(command, help=what)
        p.add_argument("model", help="[host[:port]/][namespace/]model[:tag], e.g. localhost:5000/team/m:v1")
        p.add_argument("--insecure", action="store_true", help="use an insecure (plain http) registry")
        p.add_argument(
            "--max-rate", type=parse_rate, metavar="RATE", help="bandwidth limit, e.g. 10M (bytes/s)"
        )
        p.add_argument("--ca-bundle", type=Path, metavar="FILE", help="PEM file of extra trusted CAs")
        if command == "pull":
            p.add_argument(
                "--profile",
                action="store_true",
                help="print where each blob's time went (receive, write, hash, fsync, commit)",
            )
        p.set_defaults(handler=cmd_pull if command == "pull" else cmd_push)

    p = sub.add_parser("export", help="Write models to one archive (zstd tar, OCI layout) for caching")
    p.add_argument("models", nargs="+", metavar="MODEL", help="the models to write")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="the archive to write")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("import", help="Restore the models of an archive made by 'export'")
    p.add_argument("archive", type=Path, metavar="FILE", help="an archive written by 'ollama-py export'")
    p.set_defaults(handler=cmd_import)


def _options(args: argparse.Namespace, host: str, home: Path) -> TransferOptions:
    """Options from the flags and environment; Ollama's key signs token requests to ollama.com."""
    from registry.cli.transfer_environment import transfer_options

    return transfer_options(
        home, host=host, insecure=args.insecure, ca_bundle=args.ca_bundle, max_rate=args.max_rate
    )


def cmd_pull(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py pull MODEL``: through the server at ``OLLAMA_HOST`` when one answers, else in process."""
    from registry.oci.name import ModelName

    if args.profile:
        _show_pull_profile()
    name = ModelName.parse(args.model)
    store = ctx.models
    _warn_server_flags(args, ctx)
    events = store.transfer(
        "pull",
        args.model,
        insecure=args.insecure,
        options=lambda: _options(args, name.host, ctx.settings.home),
    )
    return _render(events)


def _show_pull_profile() -> None:
    """Send the downloader's DEBUG log (one profile line per blob) to stderr."""
    import logging

    logger = logging.getLogger("registry.remote.download")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False


def cmd_push(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py push MODEL``: through the server at ``OLLAMA_HOST`` when one answers, else in process."""
    from registry.errors import Denied, Unauthorized
    from registry.oci.name import ModelName
    from registry.remote.options import TransferOptions

    name = ModelName.parse(args.model)
    store = ctx.models
    _warn_server_flags(args, ctx)
    signing_hosts = TransferOptions().signing_hosts
    try:
        code = _render(
            store.transfer(
                "push",
                args.model,
                insecure=args.insecure,
                options=lambda: _options(args, name.host, ctx.settings.home),
            )
        )
    except (Unauthorized, Denied) as err:
        if name.host.lower() not in signing_hosts:
            raise
        raise Unauthorized(
            "you are not authorized to push to this namespace, create the model under a namespace you own"
        ) from err
    if name.host.lower() in signing_hosts:
        ctx.print(f"You can find your model at: https://ollama.com/{name.repository}")
    return code


def _warn_server_flags(args: argparse.Namespace, ctx: CliContext) -> None:
    """``--max-rate`` and ``--ca-bundle`` apply in process only: a server uses its own settings."""
    if ctx.models.server_url is not None and (args.max_rate or args.ca_bundle):
        print(
            f"warning: --max-rate and --ca-bundle are ignored: {ctx.models.where} transfers with its own "
            "settings (stop it, or set OLLAMA_HOST to a free port, to transfer in process)",
            file=ctx.err,
        )


def _render(events: Iterator[dict[str, Any]]) -> int:
    """Draw ``ProgressResponse`` events, one bar per layer (speed and ETA), on stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    bars: dict[str, TaskID] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        for event in events:
            _show(event, progress, bars, console)
    return 0


def _show(event: dict[str, Any], progress: Any, bars: dict[str, Any], console: Any) -> None:
    digest, total = event.get("digest"), event.get("total")
    if not digest or total is None:
        console.print(event.get("status", ""))
        return
    task = bars.get(digest)
    if task is None:
        task = progress.add_task(event.get("status", ""), total=total)
        bars[digest] = task
    progress.update(task, completed=event.get("completed") or 0)


def cmd_export(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py export MODEL... -o FILE``."""
    from registry.cli.humanize import human_bytes
    from registry.oci.name import ModelName
    from registry.store.archive.exporter import export_to_path

    names = [ModelName.parse(text) for text in args.models]
    digests = export_to_path(ctx.library, names, args.output)
    size = args.output.stat().st_size
    ctx.print(f"exported {len(names)} model(s), {len(digests)} blobs, to {args.output} ({human_bytes(size)})")
    return 0


def cmd_import(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py import FILE``."""
    from registry.errors import InvalidInput
    from registry.store.archive import import_archive

    try:
        source = open(args.archive, "rb")  # noqa: SIM115 - closed below
    except OSError as err:
        raise InvalidInput(f"cannot open {args.archive}: {err.strerror}") from err
    with source:
        report = import_archive(ctx.library, source)
    for name in report.imported:
        ctx.print(f"imported {name.display_shortest}")
    for name in report.unchanged:
        ctx.print(f"unchanged {name.display_shortest}")
    return 0
