# ollama-py: the model server, the CLI and the registry server in one image.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY runner ./runner
COPY migrations ./migrations
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir ".[postgres,registry,inference]"
COPY deploy ./deploy
EXPOSE 5000 11434
ENTRYPOINT ["ollama-py"]
CMD ["registry", "serve", "--listen", "0.0.0.0:5000", "--config", "/app/deploy/registry.toml"]
