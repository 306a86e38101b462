"""Registry client: transport, auth, resumable parallel download, chunked upload, pull and push.

Public entry points: :func:`registry.remote.pull.pull_model` and :func:`registry.remote.push.push_model`.
"""
