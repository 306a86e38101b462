"""Row value types the catalog returns. No SQLAlchemy here, so fast read paths can share them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from registry.oci.digest import Digest
from registry.oci.name import ModelName

__all__ = ["BlobRow", "ManifestRow", "ModelRow", "model_row"]


@dataclass(frozen=True, slots=True)
class BlobRow:
    """A blob the catalog knows of."""

    digest: Digest
    size: int
    created_at: float


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """A stored manifest's summary (its bytes are the blob named ``digest``)."""

    digest: Digest
    media_type: str
    size: int
    total_size: int
    config_digest: Digest | None
    config_json: str | None


@dataclass(frozen=True, slots=True)
class ModelRow:
    """A model name pointing at a manifest."""

    name: ModelName
    manifest: ManifestRow
    modified_at: float
    broken: bool


def model_row(row: Sequence[Any]) -> ModelRow:
    """A :class:`ModelRow` from the 12 columns of the model listing query (see ``models.py``).

    Every value was validated before it was written, so nothing is re-validated (list speed).
    """
    name = ModelName.trusted(row[0], row[1], row[2], row[3])
    manifest = ManifestRow(
        digest=Digest.trusted(row[6]),
        media_type=row[7],
        size=row[8],
        total_size=row[9],
        config_digest=Digest.trusted(row[10]) if row[10] else None,
        config_json=row[11],
    )
    return ModelRow(name=name, manifest=manifest, modified_at=row[4], broken=bool(row[5]))
