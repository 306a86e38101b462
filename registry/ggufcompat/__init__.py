"""The GGUF compatibility layer: Ollama-converted blobs presented to llama.cpp as it expects them.

Ollama's own library holds GGUFs written by Ollama's converter, with its own key names, tensor
names and monolithic vision blobs; upstream llama.cpp refuses many of them. Ollama patches a
translation shim into its llama.cpp build; ollama-py instead writes a translated copy once per
blob digest (header rewritten, tensor data shared by ``copy_file_range``/reflink where the file
system allows) into the store's compat cache, and the runner loads that. The blob under its digest
is never changed.

- :mod:`.raw_header`: lossless GGUF header read/write.
- :mod:`.edits`: the editable header the handlers work on.
- :mod:`.architectures`: one handler per architecture, from Ollama's shim.
- :mod:`.rewrite`: plan a translation, write the translated file.
- :mod:`.unrunnable`: what cannot run and why (read by ``pull`` from the config blob, and by the
  handlers at load time).
"""

from registry.ggufcompat.rewrite import (
    PADDING_KEY,
    FileLayout,
    Translation,
    expected_file,
    plan_translation,
    write_translated,
)

__all__ = [
    "PADDING_KEY",
    "FileLayout",
    "Translation",
    "expected_file",
    "plan_translation",
    "write_translated",
]
