"""What can be checked of docker-compose.yml and the Dockerfile without Docker: the commands parse with
the CLI's real parser, the config is accepted, ports, volumes, environment and healthchecks agree with
what the programs really listen on, read and answer, and the image is built from files that exist."""

from __future__ import annotations

import re
import tomllib
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from registry.cli.main import build_parser
from registry.config import load_settings
from registry.modelserver.api.app import build_app as build_model_server
from registry.ociserver.settings import ServerSettings, load_config_file
from registry.store.library import Library
from tests.support.registry_process import RegistryProcess

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(keyword.upper(), rest.strip()) for keyword, _, rest in (line.partition(" ") for line in lines)]


def _healthcheck_url(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return next(arg for arg in test if str(arg).startswith("http://"))


def _container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(mapping).rsplit(":", 1)[1]) for mapping in service.get("ports", [])}


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
    args = build_parser().parse_args(command)
    assert getattr(args, "handler", None) is not None


def test_services_depend_on_declared_healthy_services_and_named_volumes() -> None:
    doc = _compose()
    services = doc["services"]
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services and "healthcheck" in services[needed], (name, needed)
            assert condition == {"condition": "service_healthy"}, (name, needed)
        for volume in service["volumes"]:
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, volume)
            else:
                assert source in doc["volumes"], (name, volume)


def test_registry_ports_volumes_and_healthcheck_agree_with_its_config(tmp_path: Path) -> None:
    service = _compose()["services"]["registry"]
    args = build_parser().parse_args(service["command"])
    settings = load_config_file(ROOT / args.config.relative_to("/app"), ServerSettings(root=tmp_path))
    listen_port = int(args.listen.rsplit(":", 1)[1])
    assert _container_ports(service) == {listen_port} == {settings.port}
    mounts = {str(v).split(":")[1] for v in service["volumes"]}
    assert {str(settings.root), str(args.config)} <= mounts
    health = urlsplit(_healthcheck_url(service))
    assert (health.hostname, health.port) == ("localhost", listen_port)


def _bundled_auth_on_filesystem(tmp_path: Path) -> Path:
    """deploy/registry.toml with its [storage] (PostgreSQL, MinIO) replaced by a local directory."""
    text = (ROOT / "deploy" / "registry.toml").read_text()
    storage = re.compile(r"^\[storage\].*?(?=^\[gc\])", re.S | re.M)
    local = f'[storage]\nroot = "{tmp_path / "registry"}"\n\n'
    config = tmp_path / "registry.toml"
    config.write_text(storage.sub(lambda _: local, text, count=1))
    assert "auth" in tomllib.loads(config.read_text()) and "minio" not in config.read_text()
    return config


def test_registry_healthcheck_is_answered_without_credentials_under_the_bundled_auth(tmp_path: Path) -> None:
    """The healthcheck's ``curl -fs`` carries no credentials: the bundled config must not lock it out."""
    path = urlsplit(_healthcheck_url(_compose()["services"]["registry"])).path
    process = RegistryProcess("--config", str(_bundled_auth_on_filesystem(tmp_path)))
    try:
        with urllib.request.urlopen(process.url + path, timeout=30) as response:
            assert response.status == 200
    finally:
        process.stop()


def test_model_server_environment_ports_and_healthcheck_agree_with_the_code(tmp_path: Path) -> None:
    service = _compose()["services"]["ollama"]
    environment = {name: str(value) for name, value in service["environment"].items()}
    settings = load_settings(environment)
    assert (settings.host.host, settings.host.port) == ("0.0.0.0", 11434)
    assert _container_ports(service) == {settings.host.port}
    assert str(settings.models_dir) in {str(v).split(":")[1] for v in service["volumes"]}
    health = urlsplit(_healthcheck_url(service))
    assert (health.hostname, health.port) == ("localhost", settings.host.port)
    library = Library.open(tmp_path / "models")
    try:
        routes = {
            (r.method, r.resource.canonical) for r in build_model_server(settings, library).router.routes()
        }
    finally:
        library.close()
    assert ("GET", health.path) in routes


def test_dockerfile_builds_from_files_that_exist_and_runs_the_project_script() -> None:
    instructions = _dockerfile()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for keyword, rest in instructions:
        if keyword == "COPY":
            *sources, _ = rest.split()
            assert all((ROOT / source).exists() for source in sources), rest
        if keyword == "RUN" and "pip install" in rest:
            extras = re.search(r"\.\[([^\]]*)\]", rest)
            assert extras is not None, rest
            assert set(extras.group(1).split(",")) <= set(project["optional-dependencies"]), rest
    commands = {
        keyword: yaml.safe_load(rest) for keyword, rest in instructions if keyword in ("ENTRYPOINT", "CMD")
    }
    assert commands["ENTRYPOINT"] == list(project["scripts"])
    assert commands["CMD"] == _compose()["services"]["registry"]["command"]
    build_parser().parse_args(commands["CMD"])
    exposed = {int(port) for keyword, rest in instructions if keyword == "EXPOSE" for port in rest.split()}
    services = _compose()["services"]
    assert exposed == _container_ports(services["registry"]) | _container_ports(services["ollama"])


def test_compose_file_is_valid_for_docker_compose() -> None:
    """``docker-compose config`` (Debian's docker-compose, installed by ``setup.sh --dev``) accepts it."""
    import shutil
    import subprocess

    tool = shutil.which("docker-compose")
    assert tool is not None, "docker-compose is not installed: scripts/setup.sh --dev installs it"
    done = subprocess.run(
        [tool, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    """A code change must not rebuild llama-cpp-python: the first ``pip install`` comes before any
    COPY of the code, and the one after it installs no dependencies."""
    instructions = _dockerfile()
    code_copies = [
        i
        for i, (k, rest) in enumerate(instructions)
        if k == "COPY" and rest.split()[0] in ("registry", "runner", "migrations")
    ]
    installs = [i for i, (k, rest) in enumerate(instructions) if k == "RUN" and "pip install" in rest]
    assert installs[0] < min(code_copies)
    assert all("--no-deps" in instructions[i][1] for i in installs if i > min(code_copies))


def test_one_image_for_both_servers_and_a_pinned_minio_with_a_working_healthcheck() -> None:
    services = _compose()["services"]
    assert services["registry"]["image"] == services["ollama"]["image"]
    minio = services["minio"]
    assert not minio["image"].endswith(":latest") and ":RELEASE." in minio["image"]
    assert minio["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
