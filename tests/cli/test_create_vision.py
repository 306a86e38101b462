"""A vision model made with ``ollama-py create`` from a Modelfile with two FROM lines (a GGUF and an
mmproj GGUF, as Ollama allows), against a real ``ollama-py serve``: the projector becomes a
projector layer, ``show`` reports ``vision`` and writes the projector back as a second FROM, and the
official client's images reach the model through the server and its runner. Pushed to a registry
and pulled into another store, the model keeps its projector layer and still sees."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import ollama
import pytest

from tests.support.registry_process import RegistryProcess
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port
from tests.support.vision_gguf import IMAGE_TOKENS, write_gemma3_projector, write_png

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    host = f"127.0.0.1:{free_port()}"
    env = cli_env(tmp_path / "store", tmp_path / "home", OLLAMA_HOST=host)
    server = ServeProcess(env)
    try:
        assert server.listening, server.text()
        yield env, host
    finally:
        server.stop()


def test_create_with_two_from_lines_makes_a_vision_model(
    served: tuple[dict[str, str], str], tmp_path: Path, tiny_gguf: Path
) -> None:
    env, host = served
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(tiny_gguf, work / "text.gguf")
    write_gemma3_projector(work / "mmproj.gguf", text_embd=64)
    modelfile = work / "Modelfile"
    modelfile.write_text("FROM ./text.gguf\nFROM ./mmproj.gguf\nPARAMETER num_predict 3\n")

    created = cli(env, "create", "seer", "-f", str(modelfile))
    assert created.returncode == 0, created.stderr
    shown = cli(env, "show", "seer")
    assert shown.returncode == 0 and "vision" in shown.stdout, shown.stdout + shown.stderr
    projector = shown.stdout[shown.stdout.index("  Projector") :].splitlines()[1:5]
    assert [line.split()[0] for line in projector] == [
        "architecture",
        "parameters",
        "embedding",
        "dimensions",
    ]
    assert projector[0].split()[-1] == "clip" and projector[3].split()[-1] == "64", shown.stdout
    text = cli(env, "show", "seer", "--modelfile")
    froms = [line for line in text.stdout.splitlines() if line.startswith("FROM ")]
    assert len(froms) == 2, text.stdout

    client = ollama.Client(host=f"http://{host}")
    details = client.show("seer")
    assert details.capabilities is not None and "vision" in details.capabilities
    question = {"role": "user", "content": "what is in the picture"}
    plain = client.chat(model="seer", messages=[question], options={"seed": 1})
    seen = client.chat(
        model="seer", messages=[{**question, "images": [write_png(32, 32)]}], options={"seed": 1}
    )
    assert plain.prompt_eval_count is not None and seen.prompt_eval_count is not None
    assert seen.prompt_eval_count >= plain.prompt_eval_count + IMAGE_TOKENS

    # show --modelfile's two FROM lines (blob paths) create the same model again
    again = work / "Modelfile.shown"
    again.write_text(text.stdout)
    recreated = cli(env, "create", "seer-copy", "-f", str(again))
    assert recreated.returncode == 0, recreated.stderr
    assert "vision" in (client.show("seer-copy").capabilities or [])


def test_a_pulled_vision_model_keeps_its_projector(tmp_path: Path, tiny_gguf: Path) -> None:
    registry = RegistryProcess("--root", str(tmp_path / "registry-data"))
    try:
        model = f"{registry.url.removeprefix('http://')}/library/seer:latest"
        shutil.copy(tiny_gguf, tmp_path / "text.gguf")
        write_gemma3_projector(tmp_path / "mmproj.gguf", text_embd=64)
        (tmp_path / "Modelfile").write_text("FROM ./text.gguf\nFROM ./mmproj.gguf\n")
        author = cli_env(tmp_path / "author-store", tmp_path / "home")
        created = cli(author, "create", model, "-f", str(tmp_path / "Modelfile"))
        assert created.returncode == 0, created.stderr
        pushed = cli(author, "push", "--insecure", model)
        assert pushed.returncode == 0, pushed.stderr

        host = f"127.0.0.1:{free_port()}"
        user = cli_env(tmp_path / "user-store", tmp_path / "home", OLLAMA_HOST=host)
        pulled = cli(user, "pull", "--insecure", model)
        assert pulled.returncode == 0, pulled.stderr
        server = ServeProcess(user)
        try:
            assert server.listening, server.text()
            client = ollama.Client(host=f"http://{host}")
            assert "vision" in (client.show(model).capabilities or [])
            question = {"role": "user", "content": "what is this", "images": [write_png(16, 16)]}
            reply = client.chat(model=model, messages=[question], options={"num_predict": 2})
            plain = client.chat(
                model=model, messages=[{**question, "images": []}], options={"num_predict": 2}
            )
            assert reply.prompt_eval_count is not None and plain.prompt_eval_count is not None
            assert reply.prompt_eval_count >= plain.prompt_eval_count + IMAGE_TOKENS
        finally:
            server.stop()
    finally:
        registry.stop()


def _prompt_count(stderr: str) -> int:
    line = next(line for line in stderr.splitlines() if line.startswith("prompt eval count:"))
    return int(line.split()[3])


def test_run_sends_image_paths_in_the_prompt(
    served: tuple[dict[str, str], str], tmp_path: Path, tiny_gguf: Path
) -> None:
    """As Ollama's CLI: for a model that can see, an image path in the prompt (one-shot or in the
    REPL, where a line may start with the path) is read, taken out of the text and sent."""
    import sys

    import pexpect

    from tests.support.checkout_env import ROOT

    env, _ = served
    shutil.copy(tiny_gguf, tmp_path / "text.gguf")
    write_gemma3_projector(tmp_path / "mmproj.gguf", text_embd=64)
    (tmp_path / "Modelfile").write_text("FROM ./text.gguf\nFROM ./mmproj.gguf\nPARAMETER num_predict 2\n")
    assert cli(env, "create", "seer", "-f", str(tmp_path / "Modelfile")).returncode == 0
    picture = tmp_path / "my picture.png"
    picture.write_bytes(write_png(20, 20))
    escaped = str(picture).replace(" ", "\\ ")

    plain = cli(env, "run", "seer", "--verbose", "what is this")
    seen = cli(env, "run", "seer", "--verbose", f"what is this {escaped}")
    assert plain.returncode == 0 and seen.returncode == 0, plain.stderr + seen.stderr
    assert f"Added image '{picture}'" in seen.stderr
    assert _prompt_count(seen.stderr) >= _prompt_count(plain.stderr) + IMAGE_TOKENS
    missing = cli(env, "run", "seer", "--verbose", "what is this /no/such/file.png")
    assert missing.returncode == 0 and "Added image" not in missing.stderr  # stays text, as Ollama
    not_image = tmp_path / "fake.png"
    not_image.write_text("hello")
    refused = cli(env, "run", "seer", f"look at {not_image}")
    assert refused.returncode != 0 and "not an image" in refused.stderr

    child = pexpect.spawn(
        sys.executable,
        ["-m", "registry.cli.main", "run", "seer"],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect_exact(">>> ")
        child.sendline(f"{escaped} what is this")
        child.expect_exact(f"Added image '{picture}'")
        child.expect_exact(">>> ")
        child.sendline("/bye")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
