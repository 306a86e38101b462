"""``ollama-py login HOST`` / ``logout HOST``: registry credentials in docker's ``config.json``
(``$DOCKER_CONFIG/config.json``, default ``~/.docker/config.json``), the file pull and push read.

``login`` checks the username and password against the registry first (nothing that does not work
is stored); the password comes from a prompt, or from stdin with ``--password-stdin`` (never argv).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from registry.cli.context import CliContext

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add login and logout to the ``ollama-py`` parser."""
    p = sub.add_parser("login", help="Log in to a registry (stores credentials for pull and push)")
    p.add_argument("host", metavar="HOST", help="registry host[:port]")
    p.add_argument("-u", "--username", help="user name (prompted for when missing)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--insecure", action="store_true", help="the registry speaks plain http")
    p.set_defaults(handler=cmd_login)
    p = sub.add_parser("logout", help="Forget the credentials stored for a registry")
    p.add_argument("host", metavar="HOST", help="registry host[:port]")
    p.set_defaults(handler=cmd_logout)


def _config_path() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def cmd_login(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py login HOST``."""
    import asyncio
    import getpass

    from registry.errors import InvalidInput
    from registry.remote.credentials import BasicCredentials, normalise_host, save_docker_login
    from registry.remote.login import verify_login
    from registry.remote.options import TransferOptions

    host = normalise_host(args.host)
    username = args.username or input("Username: ").strip()
    password = sys.stdin.read().rstrip("\r\n") if args.password_stdin else getpass.getpass("Password: ")
    if not username or not password:
        raise InvalidInput("login needs a username and a password")
    credentials = BasicCredentials(username, password)
    asyncio.run(verify_login(host, credentials, TransferOptions(insecure=args.insecure)))
    save_docker_login(_config_path(), host, credentials)
    print("Login Succeeded")
    return 0


def cmd_logout(args: argparse.Namespace, ctx: CliContext) -> int:
    """``ollama-py logout HOST``."""
    from registry.errors import InvalidInput
    from registry.remote.credentials import normalise_host, remove_docker_login

    host = normalise_host(args.host)
    if not remove_docker_login(_config_path(), host):
        raise InvalidInput(f"not logged in to {host}")
    print(f"Removing login credentials for {host}")
    return 0
