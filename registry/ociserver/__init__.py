"""The OCI Distribution (v1.1) registry server and pull-through mirror, on aiohttp.

Entry point: :func:`registry.ociserver.http.app.build_app`. The CLI (``ollama-py registry serve``) builds a
:class:`~registry.ociserver.settings.ServerSettings` and runs the app.
"""
