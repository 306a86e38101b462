"""What can be checked of docker-compose.yml without Docker: its commands parse, its config is accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry.cli.main import build_parser
from registry.ociserver.settings import ServerSettings, load_config_file

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def test_compose_services_have_healthchecks_and_volumes() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "minio", "registry", "ollama"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service.get("volumes"), name


def test_registry_command_and_config_are_accepted(tmp_path: Path) -> None:
    command = _compose()["services"]["registry"]["command"]
    args = build_parser().parse_args(command)
    assert args.registry_command == "serve"
    config = ROOT / args.config.relative_to("/app")
    settings = load_config_file(config, ServerSettings(root=tmp_path))
    assert (
        settings.backend == "s3"
        and settings.s3 is not None
        and settings.s3.endpoint_url == "http://minio:9000"
    )
    assert settings.database_url is not None and settings.database_url.startswith("postgresql+psycopg://")
    assert settings.auth is not None and "admin" in settings.auth.users
    assert (settings.host, settings.port) == ("0.0.0.0", 5000)
    settings.check_exposure()  # auth is configured, so a public address is allowed


def test_bundled_admin_password_is_admin(tmp_path: Path) -> None:
    import bcrypt

    settings = load_config_file(ROOT / "deploy" / "registry.toml", ServerSettings(root=tmp_path))
    assert settings.auth is not None
    assert bcrypt.checkpw(b"admin", settings.auth.users["admin"].encode())


def test_model_server_command_parses() -> None:
    command = _compose()["services"]["ollama"]["command"]
    parser = build_parser()
    try:
        args = parser.parse_args(command)
    except SystemExit:
        pytest.skip("the model server's `serve` command is not registered in this build yet")
    assert getattr(args, "handler", None) is not None
