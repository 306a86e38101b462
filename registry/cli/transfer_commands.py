"""Transfer commands: pull, push (with per-layer progress bars), export and import archives.

These run the library code in-process (no server needed). Environment read here (the composition
root): ``~/.ollama/id_ed25519`` (Ollama's key, signs token requests to ollama.com), ``DOCKER_CONFIG`` (directory of ``config.json`` with registry credentials, default
``~/.docker``) and ``OLLAMA_PY_CA_BUNDLE`` (PEM file of extra trusted CAs; ``--ca-bundle`` wins).
HTTPS_PROXY / NO_PROXY are honoured by the transport.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.cli.context import CliContext

if TYPE_CHECKING:
    from registry.remote.options import TransferOptions
    from registry.store.library import Progress

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
        p.add_argument("model")
        p.add_argument("--insecure", action="store_true", help="use an insecure (plain http) registry")
        p.add_argument(
            "--max-rate", type=parse_rate, metavar="RATE", help="bandwidth limit, e.g. 10M (bytes/s)"
        )
        p.add_argument("--ca-bundle", type=Path, metavar="FILE", help="PEM file of extra trusted CAs")
        p.set_defaults(handler=cmd_pull if command == "pull" else cmd_push)

    p = sub.add_parser("export", help="Write models to one archive (zstd tar, OCI layout) for caching")
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("import", help="Restore the models of an archive made by 'export'")
    p.add_argument("archive", type=Path, metavar="FILE")
    p.set_defaults(handler=cmd_import)


def _options(args: argparse.Namespace, host: str, home: Path) -> TransferOptions:
    """Options from the flags and environment; Ollama's key signs token requests to ollama.com."""
    from registry.cli.transfer_environment import transfer_options

    return transfer_options(
        home, host=host, insecure=args.insecure, ca_bundle=args.ca_bundle, max_rate=args.max_rate
    )


def cmd_pull(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py pull MODEL``."""
    from registry.oci.name import ModelName
    from registry.remote.pull import pull_model

    name = ModelName.parse(args.model)
    options = _options(args, name.host, ctx.settings.home)
    events = pull_model(
        ctx.library, name, insecure=args.insecure, options=options, prune=not ctx.settings.noprune
    )
    return _render(events)


def cmd_push(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py push MODEL``."""
    from registry.oci.name import ModelName
    from registry.remote.push import push_model

    name = ModelName.parse(args.model)
    from registry.errors import Denied, Unauthorized

    options = _options(args, name.host, ctx.settings.home)
    try:
        code = _render(push_model(ctx.library, name, insecure=args.insecure, options=options))
    except (Unauthorized, Denied) as err:
        if name.host.lower() not in options.signing_hosts:
            raise
        raise Unauthorized(
            "you are not authorized to push to this namespace, create the model under a namespace you own"
        ) from err
    if name.host.lower() in options.signing_hosts:
        ctx.print(f"You can find your model at: https://ollama.com/{name.repository}")
    return code


def _render(events: Any) -> int:
    """Drive the async progress stream, drawing one bar per layer (speed and ETA) on stderr."""
    import asyncio

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

    async def drive(progress: Progress) -> None:
        async for event in events:
            _show(event, progress, bars, console)

    with Progress(*columns, console=console, transient=False) as progress:
        asyncio.run(drive(progress))
    return 0


def _show(event: Progress, progress: Any, bars: dict[str, Any], console: Any) -> None:
    if event.digest is None or event.total is None:
        console.print(event.status)
        return
    task = bars.get(event.digest)
    if task is None:
        task = progress.add_task(event.status, total=event.total)
        bars[event.digest] = task
    progress.update(task, completed=event.completed or 0)


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
