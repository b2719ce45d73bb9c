"""Drawing results onto images (detection boxes, segmentation overlays) and naming audio bytes by their format.
Shared by the hosted and model-server backends, whose responses carry boxes and masks but no picture."""

from __future__ import annotations

import base64
import colorsys
import io
from pathlib import Path
from typing import Any


def colors(n: int) -> list[tuple[int, int, int]]:
    return [tuple(int(c * 255) for c in colorsys.hsv_to_rgb(i / max(n, 1), 0.8, 1.0)) for i in range(n)]  # type: ignore[misc]


def png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def draw_boxes(path: Path, objects: list[dict[str, Any]]) -> bytes:
    """The input image with JARVIS-style labelled boxes (``box``: xmin/ymin/xmax/ymax in pixels)."""
    from PIL import ImageDraw

    from ...codec.image import load_image

    image = load_image(path)
    labels = sorted({str(o.get("label")) for o in objects})
    color = dict(zip(labels, colors(len(labels)), strict=True))
    draw = ImageDraw.Draw(image)
    for o in objects:
        b, c = o.get("box") or {}, color[str(o.get("label"))]
        if {"xmin", "ymin", "xmax", "ymax"} <= set(b):
            draw.rectangle(((b["xmin"], b["ymin"]), (b["xmax"], b["ymax"])), outline=c, width=2)
            draw.text((b["xmin"] + 4, max(0, b["ymin"] - 12)), str(o.get("label")), fill=c)
    return png(image)


def overlay_masks(path: Path, masks: list[tuple[str, bytes]]) -> tuple[bytes, list[dict[str, Any]]]:
    """The input image with each (label, PNG mask bytes) tinted in its own colour, and the area of each segment."""
    import numpy as np
    from PIL import Image

    from ...codec.image import load_image
    from ...imaging import check_image_pixels

    image = load_image(path)
    base = np.asarray(image, dtype=np.float32)
    out = base.copy()
    facts = []
    for (label, mask_png), color in zip(masks, colors(len(masks)), strict=True):
        check_image_pixels(mask_png, name=f"The mask of {label!r}")  # masks come from remote models: no bombs
        mask = np.asarray(Image.open(io.BytesIO(mask_png)).convert("L").resize(image.size)) > 127
        out[mask] = 0.45 * base[mask] + 0.55 * np.asarray(color, dtype=np.float32)
        facts.append({"label": label, "area": round(float(mask.mean()), 4)})
    return png(Image.fromarray(out.clip(0, 255).astype(np.uint8))), facts


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
