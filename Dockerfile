# ollama-py: the model server, the CLI and the registry server in one image (docker-compose runs both
# servers from it). Layers: build tools, then the dependencies (from pyproject.toml alone, with empty
# stand-in packages), then the code: a code change rebuilds only the last two, never llama-cpp-python.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends curl build-essential cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
RUN mkdir -p registry runner migrations && touch registry/__init__.py runner/__init__.py migrations/__init__.py && pip install --no-cache-dir ".[postgres,registry,inference]" && pip uninstall -y ollama-py && rm -rf registry runner migrations
COPY registry ./registry
COPY runner ./runner
COPY migrations ./migrations
RUN pip install --no-cache-dir --no-deps ".[postgres,registry,inference]"
COPY deploy ./deploy
EXPOSE 5000 11434
ENTRYPOINT ["ollama-py"]
CMD ["registry", "serve", "--listen", "0.0.0.0:5000", "--config", "/app/deploy/registry.toml"]
