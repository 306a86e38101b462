"""What a user can do next, printed where a newcomer gets stuck: an empty ``list``, a ``run`` of a
model that is neither here nor reachable."""

from __future__ import annotations

__all__ = ["FIRST_MODEL"]

FIRST_MODEL = """\
No models yet. To get a first model:
  - from a GGUF file:         ollama-py create mymodel --from ./model.gguf
    or with a Modelfile:      printf 'FROM ./model.gguf\\nSYSTEM You are concise.\\n' > Modelfile
                              ollama-py create mymodel -f Modelfile
  - from an Ollama install:   ollama-py import-ollama ~/.ollama/models
  - from a private registry:  ollama-py pull registry.example.com/team/model:tag
                              (add --insecure for a plain-http registry)
  - from ollama.com:          ollama-py pull gemma3:270m   (needs internet access)"""
