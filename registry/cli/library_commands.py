"""Library commands that work with no server running: list, show, cp, rm, prune, verify,
import-ollama, migrate."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from registry.cli.context import CliContext

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the library commands to the ``ollama-py`` parser."""
    _register_model_commands(sub)
    _register_store_commands(sub)


def _register_model_commands(sub: Any) -> None:
    """list, show, cp, rm: commands about named models."""
    p = sub.add_parser("list", aliases=["ls"], help="List models")
    p.add_argument("prefix", nargs="?", help="only models whose name starts with this (case-insensitive)")
    p.add_argument("--json", action="store_true", help="print JSON as /api/tags does")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", help="Show information for a model")
    p.add_argument("model", help="the model's name")
    group = p.add_mutually_exclusive_group()
    for flag, what in (
        ("license", "license of the model"),
        ("modelfile", "Modelfile of the model"),
        ("parameters", "parameters of the model"),
        ("template", "template of the model"),
        ("system", "system message of the model"),
    ):
        group.add_argument(f"--{flag}", action="store_true", help=f"Show {what}")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed model information")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("cp", help="Copy a model")
    p.add_argument("source", help="the model to copy")
    p.add_argument("destination", help="the new name (same manifest, same ID)")
    p.set_defaults(handler=cmd_cp)

    p = sub.add_parser("rm", help="Remove a model")
    p.add_argument("models", nargs="+", metavar="MODEL", help="the models to remove (all checked first)")
    p.set_defaults(handler=cmd_rm)


def _register_store_commands(sub: Any) -> None:
    """prune, verify, import-ollama, migrate: commands about the store and its catalog."""
    p = sub.add_parser("prune", help="Remove blobs no model needs, stale partial downloads and temp files")
    p.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    p.add_argument(
        "--grace",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="keep unreferenced files younger than this (default 3600: protects work in flight)",
    )
    p.set_defaults(handler=cmd_prune)

    p = sub.add_parser("verify", help="Re-hash every blob and check the catalog against the files")
    p.add_argument(
        "--repair",
        action="store_true",
        help="quarantine corrupt blobs and mark the models that need them broken",
    )
    p.add_argument(
        "--rebuild-catalog",
        action="store_true",
        help="restore a lost or damaged catalog from the manifest blobs and index.json in the store",
    )
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("import-ollama", help="Adopt the models of an Ollama models directory (read-only)")
    p.add_argument("directory", nargs="?", help="default: ~/.ollama/models")
    p.set_defaults(handler=cmd_import_ollama)

    p = sub.add_parser("migrate", help="Create or upgrade the catalog database schema")
    p.set_defaults(handler=cmd_migrate)


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py list``: NAME ID SIZE MODIFIED, newest first, from the server at ``OLLAMA_HOST``
    when one answers, else from the local store; which one is said (on stderr) when it is not the
    default, and an empty list says how to get a first model."""
    from registry.cli.humanize import human_bytes, human_time

    store = ctx.models
    if not store.is_default:
        print(f"models of {store.where}", file=ctx.err)
    rows = store.tags()
    now = time.time()
    if args.prefix:
        prefix = args.prefix.casefold()
        rows = [r for r in rows if str(r["name"]).casefold().startswith(prefix)]
    if args.json:
        ctx.print(json.dumps({"models": rows}, indent=2))
        return 0
    table = [["NAME", "ID", "SIZE", "MODIFIED"]]
    for r in rows:
        name = str(r["name"]) + (" (broken)" if r.get("broken") else "")
        modified = datetime.fromisoformat(str(r["modified_at"]).replace("Z", "+00:00")).timestamp()
        table.append(
            [name, str(r["digest"])[:12], human_bytes(int(r["size"])), human_time(modified, now=now)]
        )
    _print_table(ctx, table)
    if not rows and not args.prefix:
        from registry.cli.next_steps import FIRST_MODEL

        print(FIRST_MODEL, file=ctx.err)
    return 0


def _print_table(ctx: CliContext, rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("    ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
    ctx.out.write("\n".join(lines) + "\n")


def cmd_show(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py show``: a summary (``-v``: with every metadata key), or one part with a flag."""
    from registry.cli.show_layout import render_show_info

    show = ctx.models.show(args.model, verbose=args.verbose)
    if args.license:
        ctx.print(show.get("license") or "No license was specified for this model.")
    elif args.system:
        ctx.print(show.get("system") or "No system message was specified for this model.")
    elif args.template:
        ctx.print(show.get("template") or "No prompt template was specified for this model.")
    elif args.parameters:
        ctx.print(show.get("parameters") or "No parameters were specified for this model.")
    elif args.modelfile:
        ctx.print(show.get("modelfile", ""))
    else:
        ctx.out.write(render_show_info(show, verbose=args.verbose))
    return 0


def cmd_cp(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py cp SRC DST``."""
    ctx.models.copy(args.source, args.destination)
    ctx.print(f"copied '{args.source}' to '{args.destination}'")
    return 0


def cmd_rm(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py rm MODEL...``: every name is checked before anything is deleted."""
    store = ctx.models
    for text in args.models:
        store.show(text)
    for text in args.models:
        store.delete(text)
        ctx.print(f"deleted '{text}'")
    return 0


def cmd_prune(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py prune [--dry-run]``."""
    from registry.cli.humanize import human_bytes

    report = ctx.library.prune(dry_run=args.dry_run, grace_seconds=args.grace)
    verb = "would free" if report.dry_run else "freed"
    ctx.print(
        f"{verb} {human_bytes(report.bytes_freed)} in {report.items_removed} items "
        f"({len(report.blobs_removed)} unused blobs, {report.orphan_files_removed} orphan files, "
        f"{report.partials_removed} stale partial downloads, {report.temp_files_removed} temporary files, "
        f"{report.compat_files_removed} unused llama.cpp translations; "
        f"{report.blobs_total} blobs checked)"
    )
    return 0


def cmd_verify(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py verify [--repair] [--rebuild-catalog]``: exit 1 when the store has problems."""
    from registry.cli.humanize import human_bytes

    if args.rebuild_catalog:
        return _rebuild_catalog(ctx)
    report = ctx.library.verify(repair=args.repair)
    for digest in report.corrupt:
        ctx.print(f"corrupt blob {digest}" + (" (quarantined)" if digest in report.quarantined else ""))
    for digest in report.missing:
        ctx.print(f"missing blob {digest}")
    for manifest, digest in report.dangling:
        ctx.print(f"manifest {manifest} references {digest}, which the catalog does not have")
    for name in report.broken_models:
        state = "marked broken" if report.repaired else "broken"
        ctx.print(f"model '{name.display_shortest}' is {state}: pull or create it again")
    ctx.print(
        f"checked {report.blobs_checked} blobs ({human_bytes(report.bytes_checked)}): "
        + (
            "ok"
            if report.ok
            else f"{len(report.corrupt)} corrupt, {len(report.missing)} missing, "
            f"{len(report.dangling)} dangling references"
        )
        + (f"; {report.orphan_files} unreferenced files (prune removes them)" if report.orphan_files else "")
        + (
            f"; {len(report.stale_translations)} stale llama.cpp translations "
            + ("removed" if report.repaired else "(rebuilt on the next load; --repair removes them)")
            if report.stale_translations
            else ""
        )
    )
    return 0 if report.ok or report.repaired else 1


def _rebuild_catalog(ctx: CliContext) -> int:
    """``verify --rebuild-catalog``: exit 1 when a named model could not be recovered."""
    from registry.store.library.rebuild import open_for_rebuild

    library, moved = open_for_rebuild(ctx.settings.models_dir, ctx.settings.database_url)
    try:
        if moved is not None:
            ctx.print(f"the catalog could not be read; moved it aside to {moved}")
        report = library.rebuild_catalog()
    finally:
        library.close()
    for problem in report.index_problems:
        ctx.print(f"index: {problem}")
    for digest in report.corrupt:
        ctx.print(f"corrupt blob {digest} (not used; 'verify --repair' quarantines it)")
    for name, digest in report.recovered:
        ctx.print(f"recovered '{name.display_shortest}' ({digest.short})")
    for name, digest, why in report.not_recovered:
        ctx.print(f"not recovered '{name.display_shortest}' ({digest.short}): {why}")
    if not report.names_from_index and report.recovered:
        ctx.print("the store had no index.json: models were named recovered/<id>; rename them with cp and rm")
    ctx.print(
        f"catalog rebuilt: {len(report.recovered)} models recovered, {len(report.already_present)} already "
        f"present, {len(report.not_recovered)} not recovered; {report.blobs_recorded} blobs recorded"
    )
    return 0 if report.ok else 1


def cmd_import_ollama(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py import-ollama [DIR]``."""
    from registry.cli.humanize import human_bytes
    from registry.store.library.ollama_import import import_ollama_models

    directory = (
        Path(args.directory).expanduser() if args.directory else ctx.settings.home / ".ollama" / "models"
    )
    try:
        report = import_ollama_models(ctx.library, directory)
    except FileNotFoundError as err:
        ctx.err.write(f"Error: {err}\n")
        return 1
    for name in report.imported:
        ctx.print(f"imported '{name.display_shortest}'")
    for name in report.unchanged:
        ctx.print(f"already present '{name.display_shortest}'")
    for path, reason in report.failed:
        ctx.print(f"skipped {path}: {reason}")
    ctx.print(
        f"{len(report.imported)} imported, {len(report.unchanged)} already present, {len(report.failed)} failed; "
        f"{report.blobs_linked_or_copied} blobs added ({human_bytes(report.bytes_added)}), "
        f"{report.blobs_already_present} already in the store"
    )
    return 1 if report.failed else 0


def cmd_migrate(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py migrate``: bring the catalog schema to the newest revision."""
    from registry.store.blobs import StoreLayout
    from registry.store.catalog import Database

    StoreLayout(ctx.settings.models_dir).create()
    db = Database.for_store(ctx.settings.models_dir, ctx.settings.database_url, migrate=False)
    try:
        before = db.current_revision()
        db.upgrade()
        after = db.current_revision()
    finally:
        db.dispose()
    ctx.print(
        f"catalog schema at revision {after}" + (f" (was {before})" if before != after else " (up to date)")
    )
    return 0
