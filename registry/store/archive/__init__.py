"""Model archives for CI caching: a zstandard-compressed tar holding an OCI image layout.

``export_models`` writes one deterministically (the same models give byte-identical archives, so
cache keys are stable); ``import_archive`` restores the models, verifying every digest (importing
the same archive twice changes nothing).
"""

from registry.store.archive.exporter import export_models
from registry.store.archive.importer import ImportReport, import_archive

__all__ = ["ImportReport", "export_models", "import_archive"]
