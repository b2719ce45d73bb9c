"""Encoding pictures as PNG, decoding base64 media and naming audio bytes by their format, for the hosted and
model-server backends. Boxes and masks are drawn by their payloads (``payloads.Boxes.draw``, ``Masks.draw``)."""

from __future__ import annotations

import base64
from typing import Any


def png(image: Any) -> bytes:
    """A PIL image (or a uint8 array) as PNG bytes (``codec.image.to_png_bytes``, imported on first use)."""
    from ...codec.image import to_png_bytes

    return to_png_bytes(image)


def b64decode(value: str) -> bytes:
    """Base64 or a ``data:...;base64,`` URI → bytes."""
    if value.startswith("data:"):
        value = value.split(",", 1)[1]
    return base64.b64decode(value)


def audio_ext(data: bytes) -> str:
    """The file extension of encoded audio bytes, from their magic number (hosted TTS answers FLAC, WAV or MP3)."""
    if data[:4] == b"RIFF":
        return ".wav"
    if data[:4] == b"fLaC":
        return ".flac"
    if data[:4] == b"OggS":
        return ".ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return ".mp3"
    return ".wav"
