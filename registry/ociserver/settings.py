"""The registry server's settings: command-line values plus an optional TOML config file.

Parsed once (by the CLI) into frozen values and passed down; nothing here reads the environment.
Config file format (all sections optional)::

    [server]
    listen = "0.0.0.0:5000"          # the --listen flag wins
    allow_insecure_public = false     # serve without auth on a non-loopback address anyway
    max_manifest_bytes = 4194304
    max_upload_bytes = 107374182400
    upload_max_age = "24h"            # stale upload sessions are purged after this
    tag_cache = "1s"                  # how long a process may serve a tag it resolved (0 = never)

    [storage]
    root = "/var/lib/ollama-registry"
    database_url = "postgresql+psycopg://user:pw@db/registry"
    backend = "filesystem"            # or "s3"
    uploads_dir = "/shared/uploads"   # default <root>/uploads; give every replica behind one load
                                      # balancer the same shared directory

    [storage.s3]
    bucket = "models"
    endpoint_url = "http://minio:9000"
    access_key = "..."; secret_key = "..."; region = "us-east-1"; redirect = true; create_bucket = true

    [gc]
    interval = "1h"                   # periodic online GC inside the server; "0" = off
    grace = "1h"                      # blobs touched more recently than this are never swept

    [mirror]
    upstream = "https://registry.ollama.ai"
    tag_ttl = "5m"                    # tags older than this are re-validated upstream

    [auth]                            # see registry.ociserver.auth.authenticator for the model
    realm = "ollama-py registry"
    token_secret = "long random string"   # signs Bearer tokens from /v2/token
    token_ttl = "5m"
    anonymous_pull = false
    max_failed_logins = 10            # per user and per client address, within failed_login_window;
    failed_login_window = "1m"        # more get 429 with Retry-After (0 = no limit)
    password_threads = 2              # threads that check password hashes (apart from catalog work)
    [[auth.users]]
    name = "alice"; password_hash = "$2b$12$..."   # bcrypt
    [[auth.tokens]]
    name = "ci"; token = "static-secret"
    [[auth.rules]]
    repository = "library/*"; users = ["alice", "ci"]; actions = ["pull", "push", "delete"]
    [auth.token_server]               # OR trust an external Docker token server (no rules then)
    realm = "https://auth.example.com/token"; service = "registry"; issuer = "auth"
    root_cert_bundle = "/etc/registry/token.pem"   # and/or jwks = "https://auth.example.com/jwks.json"
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from registry.durations import parse_go_duration
from registry.errors import InvalidInput
from registry.ociserver.auth.access_model import AuthConfig, parse_auth
from registry.ociserver.config_keys import check_known_keys
from registry.remote.credentials import BasicCredentials, CredentialStore, normalise_host
from registry.store.blobs.s3 import S3Settings

__all__ = ["ServerSettings", "is_loopback", "load_config_file"]


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Everything the registry server needs. Durations are seconds."""

    root: Path
    host: str = "127.0.0.1"
    port: int = 5000
    database_url: str | None = None
    uploads_dir: Path | None = None  # None: <root>/uploads
    backend: str = "filesystem"
    s3: S3Settings | None = None
    upstream: str | None = None
    upstream_credentials: BasicCredentials | None = None  # the mirror's login at its upstream
    mirror_tag_ttl: float = 300.0
    max_manifest_bytes: int = 4 << 20
    max_upload_bytes: int | None = None
    upload_max_age: float = 24 * 3600.0
    tag_cache_seconds: float = 1.0
    gc_interval: float = 0.0
    gc_grace: float = 3600.0
    auth: AuthConfig | None = None
    allow_insecure_public: bool = False
    access_log: str | None = None  # a file path, or "-" for stderr; None: no access log
    extra: dict[str, Any] = field(default_factory=dict)

    def check_exposure(self) -> None:
        """Refuse to serve without auth on a non-loopback address unless explicitly allowed.

        Raises:
            InvalidInput: with the reason and the way out.
        """
        if self.auth is None and not is_loopback(self.host) and not self.allow_insecure_public:
            raise InvalidInput(
                f"refusing to listen on {self.host} without authentication: add an [auth] section to the "
                "config file, or pass --insecure-public to serve everyone"
            )


def is_loopback(host: str) -> bool:
    """True for loopback addresses and ``localhost``."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _seconds(value: object, what: str) -> float:
    """Seconds from a number or a Go duration string ("90s", "1h30m")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_go_duration(value)
        except InvalidInput as err:
            raise InvalidInput(f"config: invalid duration for {what}: {value!r}") from err
    else:
        raise InvalidInput(f"config: invalid duration for {what}: {value!r}")
    if seconds < 0:
        raise InvalidInput(f"config: {what} must not be negative")
    return seconds


def _table(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise InvalidInput(f"config: [{name}] must be a table")
    return value


def load_config_file(path: Path, base: ServerSettings) -> ServerSettings:
    """Overlay a TOML config file on ``base`` (values the command line set explicitly win later).

    Raises:
        InvalidInput: unreadable file, TOML syntax error, an unknown key or section (with its line
            and the nearest valid key), or a bad value (the message names it).
    """
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except OSError as err:
        raise InvalidInput(f"cannot read config file {path}: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"config file {path} is not valid TOML: {err}") from err
    check_known_keys(doc, text, path)
    server, storage, gc, mirror = (_table(doc, n) for n in ("server", "storage", "gc", "mirror"))
    updates: dict[str, Any] = {}
    if "listen" in server:
        host, _, port = str(server["listen"]).rpartition(":")
        updates["host"], updates["port"] = host.strip("[]") or "0.0.0.0", int(port)
    for key in ("max_manifest_bytes", "max_upload_bytes"):
        if key in server:
            updates[key] = int(server[key])
    if "access_log" in server:
        updates["access_log"] = str(server["access_log"]) or None
    if "allow_insecure_public" in server:
        updates["allow_insecure_public"] = bool(server["allow_insecure_public"])
    if "upload_max_age" in server:
        updates["upload_max_age"] = _seconds(server["upload_max_age"], "server.upload_max_age")
    if "tag_cache" in server:
        updates["tag_cache_seconds"] = _seconds(server["tag_cache"], "server.tag_cache")
    if "root" in storage:
        updates["root"] = Path(str(storage["root"]))
    if "database_url" in storage:
        updates["database_url"] = str(storage["database_url"])
    if "uploads_dir" in storage:
        updates["uploads_dir"] = Path(str(storage["uploads_dir"]))
    updates.update(_storage_backend(storage))
    if "interval" in gc:
        updates["gc_interval"] = _seconds(gc["interval"], "gc.interval")
    if "grace" in gc:
        updates["gc_grace"] = _seconds(gc["grace"], "gc.grace")
    if "upstream" in mirror:
        updates["upstream"] = str(mirror["upstream"])
    updates.update(_upstream_credentials(mirror))
    if "tag_ttl" in mirror:
        updates["mirror_tag_ttl"] = _seconds(mirror["tag_ttl"], "mirror.tag_ttl")
    if "auth" in doc:
        updates["auth"] = parse_auth(_table(doc, "auth"), _seconds)
    return replace(base, **updates)


def _upstream_credentials(mirror: dict[str, Any]) -> dict[str, Any]:
    """``[mirror] username``/``password``, or the upstream host's entry in the docker config.json
    named by ``docker_config``.

    Raises:
        InvalidInput: half a login, or a docker config without an entry for the upstream.
    """
    if "username" in mirror or "password" in mirror:
        if not mirror.get("username") or not mirror.get("password"):
            raise InvalidInput("config: [mirror] needs both username and password (or neither)")
        return {"upstream_credentials": BasicCredentials(str(mirror["username"]), str(mirror["password"]))}
    if "docker_config" in mirror:
        upstream = str(mirror.get("upstream", ""))
        host = normalise_host(upstream)
        found = CredentialStore.from_docker_config(Path(str(mirror["docker_config"]))).lookup(host)
        if found is None:
            raise InvalidInput(
                f"config: mirror.docker_config has no credentials for {host or 'the upstream'}"
            )
        return {"upstream_credentials": found}
    return {}


def _storage_backend(storage: dict[str, Any]) -> dict[str, Any]:
    backend = str(storage.get("backend", "filesystem"))
    if backend not in ("filesystem", "s3"):
        raise InvalidInput(f"config: storage.backend must be 'filesystem' or 's3', not {backend!r}")
    if backend == "filesystem":
        return {"backend": backend}
    s3 = storage.get("s3")
    if not isinstance(s3, dict) or "bucket" not in s3:
        raise InvalidInput("config: storage.backend = 's3' needs a [storage.s3] table with a bucket")
    settings = S3Settings(
        bucket=str(s3["bucket"]),
        endpoint_url=s3.get("endpoint_url"),
        region=str(s3.get("region", "us-east-1")),
        access_key=s3.get("access_key"),
        secret_key=s3.get("secret_key"),
        prefix=str(s3.get("prefix", "")),
        redirect=bool(s3.get("redirect", False)),
        presign_seconds=int(s3.get("presign_seconds", 600)),
        create_bucket=bool(s3.get("create_bucket", False)),
    )
    return {"backend": backend, "s3": settings}
