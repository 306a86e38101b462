"""The registry's web page: what the registry holds, for people (HTML) and scripts (JSON).

``browse`` gathers the data (names filtered by who may pull them, paged, then tags and sizes for
the page only), ``facts`` reads what a model is from its config blob, GGUF header and text layers,
``sessions`` signs the sign-in cookie, ``render`` turns it all into escaped HTML. The routes live in
``registry.ociserver.http.ui_routes``.
"""
