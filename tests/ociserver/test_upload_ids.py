"""Upload ids: the shape the registry mints is the shape it accepts back."""

from __future__ import annotations

import pytest

from registry.errors import UploadNotFound
from registry.ociserver.upload_ids import new_upload_id, validate_upload_id


def test_a_minted_id_is_accepted_and_fresh() -> None:
    ids = {new_upload_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(validate_upload_id(upload_id) == upload_id for upload_id in ids)


@pytest.mark.parametrize(
    "bad", ["", "0" * 31, "0" * 33, "G" * 32, "A" * 32, "../" + "0" * 29, "0" * 32 + "\n"]
)
def test_other_shapes_are_unknown_uploads(bad: str) -> None:
    with pytest.raises(UploadNotFound):
        validate_upload_id(bad)
