"""Images in requests: checked here (base64, size, format, dimensions), placed in the prompt as
Ollama places them, and sent to the runner as ``[{"id", "data"}]``.

Contracts:
- :func:`check_image` accepts a base64 string of a PNG, JPEG, GIF or BMP image of at most
  :data:`MAX_IMAGE_BYTES` bytes and :data:`MAX_IMAGE_PIXELS` pixels (read from the header, before
  anything decodes it); anything else is an ``InvalidInput`` (400) that says what is wrong. WebP
  is refused by name: the llama.cpp in llama-cpp-python decodes images with stb_image, which
  cannot read it.
- :func:`place_images` is Ollama's ``chatPrompt`` for llama.cpp models: each message's images are
  numbered in order over the whole conversation; image N replaces the first ``[img]`` left in its
  message's content, else ``[img-N]`` goes before the content. The runner puts the image where
  ``[img-N]`` ends up in the rendered prompt.
- :func:`image_from_url` is OpenAI's ``image_url``: ``data:`` URLs only. Nothing leaves the
  machine, so an ``http(s)`` URL is a 400, never a download.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from typing import Any

from registry import errors

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "check_image",
    "has_markers",
    "image_from_url",
    "image_size",
    "place_images",
]

#: The largest image accepted, decoded (OpenAI's limit for one image).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: The most pixels an image may have (a 20 MiB PNG can declare gigapixels: checked before decoding).
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
_MARKER = re.compile(r"\[img-\d+\]")


def image_size(data: bytes) -> tuple[str, int, int]:
    """``(format, width, height)`` from an image's header.

    Raises:
        ValueError: not a PNG, JPEG, GIF or BMP (the message names WebP when it is one).
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "gif", width, height
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return "bmp", abs(width), abs(height)
    if data.startswith(b"\xff\xd8"):
        return "jpeg", *_jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        raise ValueError("WebP images cannot be decoded by this server's llama.cpp: send PNG or JPEG")
    raise ValueError("the data is not an image (PNG, JPEG, GIF or BMP expected)")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """The frame size from a JPEG's SOFn segment."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            raise ValueError("the JPEG data is damaged")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    raise ValueError("the JPEG data is damaged (no frame header)")


def check_image(value: Any, where: str) -> str:
    """``value`` if it is a base64 image this server accepts (see the module docstring).

    Raises:
        InvalidInput: ``<where>: ...`` saying what is wrong.
    """
    if not isinstance(value, str):
        raise errors.InvalidInput(f"{where}: an image must be a base64 string")
    if len(value) > (MAX_IMAGE_BYTES * 4) // 3 + 4:
        raise errors.InvalidInput(f"{where}: the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidInput(f"{where}: invalid image data: not base64") from None
    try:
        _, width, height = image_size(data)
    except ValueError as err:
        raise errors.InvalidInput(f"{where}: {err}") from None
    except struct.error:
        raise errors.InvalidInput(f"{where}: the image data is truncated") from None
    if width <= 0 or height <= 0:
        raise errors.InvalidInput(f"{where}: the image has no pixels ({width}x{height})")
    if width * height > MAX_IMAGE_PIXELS:
        raise errors.InvalidInput(
            f"{where}: the image is {width}x{height} pixels; at most {MAX_IMAGE_PIXELS // (1024 * 1024)} "
            "megapixels are accepted"
        )
    return value


def image_from_url(url: Any) -> str:
    """The base64 image of an OpenAI ``image_url`` (a ``data:`` URL, as Ollama accepts them).

    Raises:
        InvalidInput: a remote URL (never fetched), another scheme, or a bad image.
    """
    if not isinstance(url, str):
        raise errors.InvalidInput('invalid message format: image_url must be a string or {"url": string}')
    if url.startswith(("http://", "https://")):
        raise errors.InvalidInput(
            "image URLs are not supported: nothing leaves this machine; send the image as a "
            "data URL (data:image/png;base64,...)"
        )
    match = re.match(r"data:(image/[a-z0-9.+-]+)?(;[^,]*)?;base64,", url, re.IGNORECASE)
    if match is None:
        raise errors.InvalidInput(
            "invalid image input: expected a base64 data URL (data:image/png;base64,...)"
        )
    return check_image(url[match.end() :], "invalid image input")


def place_images(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The messages with image markers in their content, and the images as the runner takes
    them (``{"id": n, "data": base64}``); see the module docstring. Messages without images are
    returned as they are."""
    out: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for message in messages:
        pictures = message.get("images") or []
        if not pictures:
            out.append(message)
            continue
        content = str(message.get("content") or "")
        prefix = ""
        for data in pictures:
            tag = f"[img-{len(images)}]"
            images.append({"id": len(images), "data": data})
            if "[img]" in content:
                content = content.replace("[img]", tag, 1)
            else:
                prefix += tag
        out.append({**message, "content": prefix + content, "images": None})
    return out, images


def has_markers(prompt: str) -> bool:
    """True when ``prompt`` already places images with ``[img-N]``."""
    return _MARKER.search(prompt) is not None
