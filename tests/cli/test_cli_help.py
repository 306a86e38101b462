"""Issue 15, a CLI that explains itself: every sub-command has a description and every argument a
help text; ``serve --help`` lists the environment variables with their defaults; flags may come
anywhere after the command, as with Ollama's CLI."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from registry.cli.main import build_parser, parse_arguments
from tests.support.serve_process import cli, cli_env, free_port


def _commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", sub
                yield from _commands(sub, f"{prefix}{name} ")


def test_every_command_has_a_description_and_every_argument_help() -> None:
    missing = []
    for name, sub in _commands(build_parser()):
        if not sub.description:
            missing.append(f"{name}: no description")
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help:
                missing.append(f"{name}: {action.dest} has no help")
    assert missing == []


def test_serve_help_lists_the_environment_with_defaults(tmp_path: Path) -> None:
    shown = cli(cli_env(tmp_path / "store", tmp_path), "serve", "--help")
    assert shown.returncode == 0
    for line in (
        "OLLAMA_HOST",
        "127.0.0.1:11434",
        "OLLAMA_MODELS",
        "~/.ollama-py/models",
        "OLLAMA_KEEP_ALIVE",
        "5m",
        "OLLAMA_NUM_PARALLEL",
        "OLLAMA_MAX_LOADED_MODELS",
        "OLLAMA_MAX_QUEUE",
        "512",
        "OLLAMA_CONTEXT_LENGTH",
        "4096",
        "OLLAMA_ORIGINS",
        "OLLAMA_DEBUG",
        "OLLAMA_PY_DATABASE_URL",
    ):
        assert line in shown.stdout, line


def test_flags_anywhere_after_the_command() -> None:
    parser = build_parser()
    args = parse_arguments(parser, ["run", "m", "--format", "json", "why", "--verbose", "blue"])
    assert (args.model, args.prompt, args.format, args.verbose) == ("m", ["why", "blue"], "json", True)
    args = parse_arguments(parser, ["show", "m", "--license"])
    assert (args.model, args.license) == ("m", True)
    args = parse_arguments(parser, ["registry", "serve", "--root", "x"])
    assert args.command == "registry"


def test_run_with_format_after_the_model_through_the_cli(tmp_path: Path, tiny_gguf: Path) -> None:
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    (tmp_path / "Modelfile").write_text(f"FROM {tiny_gguf}\nPARAMETER num_predict 4\n")
    assert cli(env, "create", "tiny", "-f", str(tmp_path / "Modelfile")).returncode == 0
    ran = cli(env, "run", "tiny", "--format", "json", "hello", "--nowordwrap")
    assert ran.returncode == 0, ran.stderr
