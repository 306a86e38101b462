"""Image paths in a ``run`` prompt, as Ollama's CLI takes them for a model that can see
(``extractFileData`` in ``cmd/interactive.go``): a path that starts with ``/``, ``./`` or ``\\`` (an
optional drive letter first) and ends in ``.jpg``, ``.jpeg``, ``.png`` or ``.webp`` is read, taken
out of the text, and sent as an image; ``Added image '<path>'`` goes to the error stream. A match
that is not an existing file stays text. Backslash escapes a shell would leave (``\\ ``, ``\\(``)
are undone first. Differences from Ollama: WAV files are not taken (no audio models here), and
the file must be an image the server accepts (PNG, JPEG, GIF, BMP), checked here first.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TextIO

from registry.errors import InvalidInput
from registry.modelserver.api.images import MAX_IMAGE_BYTES, image_size

__all__ = ["extract_images", "image_paths", "names_an_image"]

_PATH = re.compile(r"(?:[a-zA-Z]:)?(?:\./|/|\\)[\S\\ ]+?\.(?i:jpg|jpeg|png|webp)\b")
_UNESCAPE = re.compile(r"\\([ ()\[\]{}$&;'\\*?~])")


def image_paths(text: str) -> list[str]:
    """The candidate image paths in ``text``, as written (not checked to exist)."""
    return _PATH.findall(text)


def _path(written: str) -> Path:
    return Path(_UNESCAPE.sub(r"\1", written)).expanduser()


def names_an_image(text: str) -> bool:
    """Whether ``text`` names an existing image file (a REPL line starting with one is a prompt)."""
    return any(_path(written).is_file() for written in image_paths(text))


def _read(path: Path) -> bytes:
    """The bytes of the image file at ``path``.

    Raises:
        InvalidInput: too large, or not an image the server accepts.
    """
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise InvalidInput(f"{path}: the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    data = path.read_bytes()
    try:
        image_size(data)
    except ValueError as err:
        raise InvalidInput(f"{path}: {err}") from None
    return data


def extract_images(text: str, err: TextIO) -> tuple[str, list[str]]:
    """``text`` without its image paths, and the images (base64), in order.

    Raises:
        InvalidInput: a named file is not an image the server accepts, or is too large.
    """
    images: list[str] = []
    for written in image_paths(text):
        path = _path(written)
        if not path.is_file():
            continue
        images.append(base64.b64encode(_read(path)).decode())
        print(f"Added image '{path}'", file=err, flush=True)
        for form in (f"'{path}'", f"'{written}'", written):
            text = text.replace(form, "")
    return text.strip(), images
