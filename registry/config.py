"""Settings, parsed once at the composition root (``registry.cli``) and passed down.

Nothing else reads the environment. Lower layers take explicit keyword arguments; this module only
turns ``OLLAMA_*`` variables into a frozen :class:`Settings`.

Store root: ``OLLAMA_MODELS``, else ``~/.ollama-py/models``. The default is deliberately not Ollama's
``~/.ollama/models``: our layout differs, and the store refuses to open an Ollama directory (adopt
its models with ``ollama-py import-ollama`` instead).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from registry.durations import parse_keep_alive
from registry.errors import InvalidInput

__all__ = ["DEFAULT_PORT", "HostAddress", "Settings", "load_settings", "parse_host"]

DEFAULT_PORT = 11434


@dataclass(frozen=True, slots=True)
class HostAddress:
    """Where the model server listens / where clients find it."""

    scheme: str = "http"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    path: str = ""

    @property
    def url(self) -> str:
        """``scheme://host:port[/path]`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def is_loopback(self) -> bool:
        """True for 127.0.0.0/8, ::1 and localhost."""
        return self.host in ("localhost", "::1") or self.host.startswith("127.")


def parse_host(value: str | None) -> HostAddress:
    """Parse ``OLLAMA_HOST`` as Ollama does (``envconfig.Host``).

    Scheme defaults to http; port to 11434, or 80/443 when a scheme is given without a port; an
    empty host is 127.0.0.1; a path is kept. Surrounding quotes and whitespace are ignored.
    """
    raw = (value or "").strip().strip("\"'").strip()
    if not raw:
        return HostAddress()
    scheme_given = "://" in raw
    parts = urlsplit(raw if scheme_given else f"http://{raw}")
    scheme = parts.scheme or "http"
    if scheme not in ("http", "https"):
        raise InvalidInput(f"invalid OLLAMA_HOST {value!r}: scheme must be http or https")
    try:
        port = parts.port
    except ValueError as err:
        raise InvalidInput(f"invalid OLLAMA_HOST {value!r}: {err}") from err
    if port is None:
        port = (443 if scheme == "https" else 80) if scheme_given else DEFAULT_PORT
    host = parts.hostname or "127.0.0.1"
    if raw.startswith("ollama.com"):
        scheme, port = "https", 443
    return HostAddress(scheme=scheme, host=host, port=port, path=parts.path.rstrip("/"))


def _bool(env: Mapping[str, str], key: str, default: bool = False) -> bool:
    raw = env.get(key, "").strip().strip("\"'")
    if not raw:
        return default
    if raw.lower() in ("0", "false", "f", "no", "off"):
        return False
    return True  # Ollama: any other non-empty value counts as true


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip().strip("\"'")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise InvalidInput(f"invalid {key}={raw!r}: expected an integer") from err


_BYTE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2}
_BYTE_UNITS |= {"mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "tb": 1000**4, "tib": 1024**4}


def _bytes(env: Mapping[str, str], key: str) -> int | None:
    """A size such as ``512MiB``, ``2 GB`` or ``1048576``; None when unset."""
    raw = env.get(key, "").strip().strip("\"'").strip()
    if not raw:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", raw)
    unit = _BYTE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise InvalidInput(f"invalid {key}={raw!r}: expected a size such as 512MiB or 2GB")
    return int(float(match.group(1)) * unit)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable from the environment. Build it with :func:`load_settings`."""

    host: HostAddress = field(default_factory=HostAddress)
    models_dir: Path = field(default_factory=lambda: Path.home() / ".ollama-py" / "models")
    database_url: str | None = None
    keep_alive: float | None = 300.0  # seconds; None = forever
    num_parallel: int = 0  # 0: auto (as many slots as memory allows, at most 4)
    memory_limit: int | None = None  # bytes a new runner may use at most (OLLAMA_PY_MEMORY_LIMIT)
    max_loaded_models: int = 3
    max_queue: int = 512
    context_length: int = 4096
    load_timeout: float = 300.0
    origins: tuple[str, ...] = ()
    noprune: bool = False
    debug: int = 0
    nohistory: bool = False
    home: Path = field(default_factory=Path.home)
    access_log: str | None = None  # OLLAMA_PY_ACCESS_LOG: a file to append to, or "-" for stderr


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``OLLAMA_*`` (and ``OLLAMA_PY_DATABASE_URL``) from ``environ`` (default ``os.environ``).

    Raises:
        InvalidInput: naming the variable whose value is malformed.
    """
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    models = env.get("OLLAMA_MODELS", "").strip().strip("\"'")
    keep_alive_raw = env.get("OLLAMA_KEEP_ALIVE", "").strip().strip("\"'")
    try:
        keep_alive = parse_keep_alive(keep_alive_raw) if keep_alive_raw else 300.0
    except InvalidInput as err:
        raise InvalidInput(f"invalid OLLAMA_KEEP_ALIVE={keep_alive_raw!r}: {err}") from err
    load_timeout = parse_keep_alive(env.get("OLLAMA_LOAD_TIMEOUT", "").strip() or "5m")
    debug_raw = env.get("OLLAMA_DEBUG", "").strip().lower()
    debug = int(debug_raw) if debug_raw.isdigit() else (1 if _bool(env, "OLLAMA_DEBUG") else 0)
    max_loaded = _int(env, "OLLAMA_MAX_LOADED_MODELS", 0)
    return Settings(
        host=parse_host(env.get("OLLAMA_HOST")),
        models_dir=Path(models).expanduser() if models else home / ".ollama-py" / "models",
        database_url=env.get("OLLAMA_PY_DATABASE_URL") or None,
        keep_alive=keep_alive,
        num_parallel=max(0, _int(env, "OLLAMA_NUM_PARALLEL", 0)),
        memory_limit=_bytes(env, "OLLAMA_PY_MEMORY_LIMIT"),
        max_loaded_models=max_loaded if max_loaded > 0 else 3,
        max_queue=max(1, _int(env, "OLLAMA_MAX_QUEUE", 512)),
        context_length=_int(env, "OLLAMA_CONTEXT_LENGTH", 0) or 4096,
        load_timeout=load_timeout if load_timeout and load_timeout > 0 else float("inf"),
        origins=tuple(o.strip() for o in env.get("OLLAMA_ORIGINS", "").split(",") if o.strip()),
        noprune=_bool(env, "OLLAMA_NOPRUNE"),
        debug=debug,
        nohistory=_bool(env, "OLLAMA_NOHISTORY"),
        home=home,
        access_log=env.get("OLLAMA_PY_ACCESS_LOG", "").strip() or None,
    )
