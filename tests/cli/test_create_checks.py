"""Issue 15, create says what it cannot do, through a server and in process alike: a model with no
chat template (none in the GGUF, no TEMPLATE) is created with a warning that SYSTEM and MESSAGE will
be ignored; ``-q`` to the type the model already has is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.modelserver.creator.flow import NO_TEMPLATE_WARNING
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port
from tests.support.tiny_gguf import write_tiny_gguf


@pytest.mark.parametrize("server", [False, True], ids=["in-process", "through-serve"])
def test_create_warns_without_template_and_refuses_a_no_op_quantize(tmp_path: Path, server: bool) -> None:
    bare = write_tiny_gguf(tmp_path / "bare.gguf", chat_template=None)
    q8 = write_tiny_gguf(tmp_path / "q8.gguf", file_type="Q8_0")
    (tmp_path / "System").write_text(f"FROM {bare}\nSYSTEM You are tiny.\nMESSAGE user hi\n")
    (tmp_path / "Templated").write_text(f'FROM {bare}\nTEMPLATE "{{{{ .System }}}} {{{{ .Prompt }}}}"\n')
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    serve = ServeProcess(env) if server else None
    try:
        if serve is not None:
            assert serve.listening, serve.text()
        warned = cli(env, "create", "bare", "-f", str(tmp_path / "System"))
        assert warned.returncode == 0, warned.stderr
        assert NO_TEMPLATE_WARNING in warned.stderr and warned.stderr.endswith("success\n")
        templated = cli(env, "create", "templated", "-f", str(tmp_path / "Templated"))
        assert templated.returncode == 0 and "warning" not in templated.stderr, templated.stderr
        with_gguf_template = cli(env, "create", "q8", "--from", str(q8))
        assert with_gguf_template.returncode == 0 and "warning" not in with_gguf_template.stderr
        same = cli(env, "create", "q8b", "--from", str(q8), "-q", "q8_0")
        assert same.returncode == 1
        assert same.stderr.endswith(
            "Error: the model is already Q8_0: nothing to quantize (leave out -q / quantize)\n"
        )
        assert "q8b" not in cli(env, "list").stdout
    finally:
        if serve is not None:
            serve.stop()
