"""ollama-py: Ollama in Python, around a real model registry and blob store.

Three programs share this package (one distribution, one console script ``ollama-py``):

- the **model server** (``ollama-py serve``): :mod:`registry.modelserver`;
- the **registry server** (``ollama-py registry serve``): :mod:`registry.ociserver`;
- the **CLI**, the composition root of both: :mod:`registry.cli`.

A fourth program, the **runner** (``python -m runner``), lives beside this package in ``runner/``; the
model server imports only :mod:`runner.protocol` from it.

The map, from the top down (a package imports only the ones below it; siblings never import each other):

``cli/``
    Argument parsing, the environment, and the commands. The only place that reads argv or ``OLLAMA_*``.
``modelserver/``
    ``api/`` (the app, shared request logic, and ``api/routes/``: one leaf module per route family),
    ``scheduler/`` (runners, started through a ``RunnerFactory``: share, keep alive, evict),
    ``prompt/`` (Go and Jinja chat templates), ``creator/`` (``create`` from a Modelfile or a GGUF).
``ociserver/``
    The OCI Distribution server: the blob, upload and manifest services at its top level, ``http/``
    (the app and the route modules), ``auth/`` (who may do what), ``mirror/`` (pull-through, over
    ``remote/``), ``web/`` (the web page under ``/ui/``: queries, model facts, sign-in sessions,
    templates).
``access_log``
    The one access log of both servers (one line per request; an aiohttp middleware).
``remote/``
    The one registry client: transport, auth, resumable download, chunked upload, pull and push,
    single-request reads by URL (``fetch``: the mirror's).
``store/``
    Everything on disk: ``blobs/`` (the content-addressed blob contract, its filesystem and S3
    drivers, the one verifying writer), ``catalog/`` (the database; the only SQLAlchemy user; Alembic
    scripts live in ``/migrations``), ``library/`` (the local model library's invariants, verify,
    its GC program), ``gc`` (the one mark-and-sweep both programs' GC runs), ``archive/`` (export and
    import).
``ggufcompat/``
    The GGUF compatibility layer: Ollama-converted blobs rewritten (header only; tensor data shared
    by ``copy_file_range``) into what upstream llama.cpp loads; the store caches one per digest.
``config`` · ``hosts/`` · ``modelfile/`` · ``ggufmeta/``
    The model server's settings; which host names are this machine; the Modelfile parser and writer
    (pure); the GGUF metadata reader (pure).
``oci/``
    Pure value types: digests, model and repository names, media types, manifests (the one parser),
    byte ranges, ``WWW-Authenticate`` challenges.
``bounded_json`` · ``durations``
    The one decoder for untrusted JSON; Ollama's durations.
``errors`` · ``version``
    The one domain error tree (each server maps it to its wire format in one place:
    :mod:`registry.modelserver.api.errors`, :mod:`registry.ociserver.http.errcodes`); the version, from
    the package metadata.

Where a change goes: a storage backend is a driver in ``store/blobs/``; a new ``/api`` or ``/v1``
route is a module in ``modelserver/api/routes/``; a registry endpoint is a route in ``ociserver/http/``;
a new CLI command is in ``cli/``. ``docs/architecture.md`` tells the same story at more length, and
``pyproject.toml``'s import-linter contracts enforce it.
"""
