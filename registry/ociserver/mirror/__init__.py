"""The pull-through mirror, below the HTTP layer: fetch misses from the one configured upstream through
the registry client (``registry.remote``). The HTTP layer wires it in and refuses writes."""
