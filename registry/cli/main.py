"""``ollama-py``: argument parsing and dispatch.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its
sub-commands; handlers are ``(args, ctx) -> int``. Modules must keep their top-level imports light
(argparse, stdlib): heavy libraries are imported inside handlers so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from registry.cli.context import CliContext

__all__ = ["build_parser", "main", "parse_arguments"]


#: Command-group modules, in the order their commands appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "registry.cli.library_commands",
    "registry.cli.create_command",
    "registry.cli.transfer_commands",
    "registry.cli.login_commands",
    "registry.cli.server_commands",
    "registry.cli.registry_commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="ollama-py",
        description="Run, store and share local language models (an Ollama-compatible toolkit).",
    )
    parser.add_argument("-v", "--version", action="store_true", help="show version information")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    _describe_subcommands(subparsers)
    return parser


def _describe_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Give every sub-command's own ``--help`` the one-line help it has in the command list as
    its description, when it has none of its own (recursively, for ``registry ...``)."""
    for choice in subparsers._choices_actions:
        sub = subparsers.choices[choice.dest]
        if sub.description is None and choice.help:
            sub.description = choice.help
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _describe_subcommands(action)


def _subcommand(
    parser: argparse.ArgumentParser, argv: list[str]
) -> tuple[str, argparse.ArgumentParser] | None:
    """The command name and its parser when ``argv`` starts with a command name."""
    if not argv or argv[0].startswith("-"):
        return None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and argv[0] in action.choices:
            return argv[0], action.choices[argv[0]]
    return None


def parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse as Ollama's CLI does: a command's flags may come anywhere after the command, before,
    between or after its positional arguments (``run MODEL --format json "prompt"``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    found = _subcommand(parser, args)
    if found is not None:
        name, sub = found
        if name == "run":  # a bare --think means true (cobra's NoOptDefVal): it takes no word after it
            args = ["--think=true" if a == "--think" else a for a in args]
        try:
            namespace = sub.parse_intermixed_args(args[1:])
        except TypeError:  # a command with its own sub-commands: argparse cannot intermix those
            return parser.parse_args(args)
        namespace.command = name
        namespace.version = False
        return namespace
    return parser.parse_args(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script. Returns the process exit status."""
    parser = build_parser()
    args = parse_arguments(parser, argv)
    if args.version:
        from registry.version import VERSION

        print(f"ollama-py version is {VERSION}")
        return 0
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    from registry.errors import OllamaPyError

    ctx: CliContext | None = None
    try:
        ctx = CliContext.from_environment()
        return int(handler(args, ctx))
    except OllamaPyError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        if ctx is not None:
            ctx.close()


if __name__ == "__main__":
    sys.exit(main())
