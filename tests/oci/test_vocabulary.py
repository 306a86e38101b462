"""One vocabulary: media types and the ref.name annotation are spelled only in registry/oci/mediatypes.py,
and WWW-Authenticate challenges are parsed only in registry/oci/challenge.py."""

from __future__ import annotations

import re
from pathlib import Path

import registry

_ROOT = Path(registry.__file__).parent
_SPELLINGS = re.compile(r"application/vnd\.(?:oci|docker|ollama)|org\.opencontainers\.image\.ref\.name")


def _sources() -> list[Path]:
    return sorted(_ROOT.rglob("*.py"))


def test_media_types_are_spelled_in_one_module() -> None:
    spelled = sorted(
        p.relative_to(_ROOT).as_posix()
        for p in _sources()
        if _SPELLINGS.search(re.sub(r'"""[\s\S]*?"""', "", p.read_text(encoding="utf-8")))
    )
    assert spelled == ["oci/mediatypes.py"]


def test_challenges_are_parsed_in_one_module() -> None:
    parsing = sorted(
        p.relative_to(_ROOT).as_posix()
        for p in _sources()
        if "def parse_challenges" in p.read_text(encoding="utf-8")
    )
    assert parsing == ["oci/challenge.py"]
