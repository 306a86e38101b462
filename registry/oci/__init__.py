"""Pure OCI/Ollama value types: digests, model names, media types and manifests. No I/O here."""
