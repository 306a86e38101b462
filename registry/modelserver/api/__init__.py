"""The model server's HTTP APIs: Ollama's ``/api/*`` and the OpenAI-compatible ``/v1/*`` (aiohttp)."""
