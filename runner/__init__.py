"""The runner: a separate process that loads GGUF layers with llama-cpp-python. Never imports ``registry``."""
