"""``ollama-py registry serve|gc|hash-password``: the OCI registry server and its maintenance."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.cli.context import CliContext

if TYPE_CHECKING:
    from registry.ociserver.settings import ServerSettings

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``registry`` command group."""
    group = sub.add_parser(
        "registry", help="Run an OCI registry server for models (private registry or mirror)"
    )
    rsub = group.add_subparsers(dest="registry_command", metavar="COMMAND")
    group.set_defaults(handler=lambda args, ctx: (group.print_help(), 0)[1])

    p = rsub.add_parser("serve", help="Serve the OCI Distribution API")
    _storage_args(p)
    p.add_argument(
        "--listen", default=None, metavar="HOST:PORT", help="address to listen on (default 127.0.0.1:5000)"
    )
    p.add_argument(
        "--upstream", default=None, metavar="URL", help="act as a pull-through mirror of this registry"
    )
    p.add_argument(
        "--gc-interval", default=None, metavar="DURATION", help="run online GC this often (e.g. 1h)"
    )
    p.add_argument(
        "--insecure-public", action="store_true", help="allow serving without auth on a non-loopback address"
    )
    p.add_argument(
        "--access-log", default=None, metavar="FILE", help="log one line per request to FILE ('-': stderr)"
    )
    p.set_defaults(handler=cmd_serve)

    p = rsub.add_parser("gc", help="Remove blobs no manifest references and stale upload sessions (online)")
    _storage_args(p)
    p.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    p.add_argument(
        "--grace", default=None, metavar="DURATION", help="spare blobs touched within this (default 1h)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_gc)

    p = rsub.add_parser("hash-password", help="Print a bcrypt hash for the config file's [[auth.users]]")
    p.add_argument("password", nargs="?", help="(prefer the prompt or --password-stdin: argv is visible)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(handler=cmd_hash_password)


def _storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--root", default=None, type=Path, help="registry storage root (default ~/.ollama-py/registry)"
    )
    p.add_argument("--config", default=None, type=Path, help="TOML config file (auth, storage, gc, mirror)")
    p.add_argument("--database-url", default=None, help="catalog database URL (default SQLite in the root)")


def _settings(args: argparse.Namespace, ctx: CliContext) -> ServerSettings:
    from dataclasses import replace

    from registry.durations import parse_go_duration
    from registry.ociserver.settings import ServerSettings, load_config_file

    settings = ServerSettings(root=ctx.settings.models_dir.parent / "registry")
    if args.config is not None:
        settings = load_config_file(args.config, settings)
    changes: dict[str, Any] = {}
    if args.root is not None:
        changes["root"] = args.root
    if args.database_url:
        changes["database_url"] = args.database_url
    if getattr(args, "listen", None):
        from registry.errors import InvalidInput

        host, _, port = args.listen.rpartition(":")
        if not port.isdigit():
            raise InvalidInput(f"invalid --listen {args.listen!r}: expected HOST:PORT")
        changes["host"], changes["port"] = host.strip("[]") or "0.0.0.0", int(port)
    if getattr(args, "upstream", None):
        changes["upstream"] = args.upstream
    if getattr(args, "gc_interval", None):
        changes["gc_interval"] = parse_go_duration(args.gc_interval)
    if getattr(args, "access_log", None):
        changes["access_log"] = args.access_log
    if getattr(args, "insecure_public", False):
        changes["allow_insecure_public"] = True
    if getattr(args, "grace", None):
        changes["gc_grace"] = parse_go_duration(args.grace)
    return replace(settings, **changes)


def cmd_serve(args: argparse.Namespace, ctx: CliContext) -> int:
    """Run the server until SIGINT/SIGTERM."""
    import asyncio

    settings = _settings(args, ctx)
    settings.check_exposure()
    from registry.ociserver.http.serve import serve_forever

    asyncio.run(serve_forever(settings, lambda line: print(line, flush=True)))
    return 0


def cmd_gc(args: argparse.Namespace, ctx: CliContext) -> int:
    """One GC run against the store (safe while servers are running)."""
    import asyncio

    from registry.ociserver.gc import collect_garbage
    from registry.ociserver.store import RegistryStore

    settings = _settings(args, ctx)

    async def run() -> dict[str, Any]:
        store = RegistryStore.open(settings)
        try:
            report = await collect_garbage(
                store, grace=settings.gc_grace, upload_max_age=settings.upload_max_age, dry_run=args.dry_run
            )
        finally:
            await store.close()
        return report.to_json()

    report = asyncio.run(run())
    if args.json:
        ctx.print(json.dumps(report, indent=2))
        return 0
    verb = "would remove" if args.dry_run else "removed"
    ctx.print(
        f"{verb} {report['blobs_removed']} blobs ({report['bytes_freed']} bytes), "
        f"{report['orphan_files_removed']} orphan files, {report['uploads_purged']} stale upload sessions"
    )
    return 0


def cmd_hash_password(args: argparse.Namespace, ctx: CliContext) -> int:
    """Print a bcrypt hash of the password: from stdin with ``--password-stdin``, else the argument,
    else a prompt (asked twice)."""
    import getpass
    import sys

    import bcrypt

    from registry.errors import InvalidInput

    if args.password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    elif args.password is not None:
        password = args.password
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise InvalidInput("the passwords differ")
    if not password:
        raise InvalidInput("the password is empty")
    ctx.print(bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode())
    return 0
