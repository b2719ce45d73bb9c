"""Image I/O shared by the experts and the hub backends: safe loading, PNG encoding, OpenCV conversion.

Every expert reads its input through :func:`load_image`, so a missing, empty, truncated or non-image file gives the
same clear ``ExpertInputError`` whichever model was asked.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ExpertInputError
from ..imaging import check_image_pixels

_HINT = "Give a PNG, JPEG, GIF, BMP, WebP or TIFF image, or feed one from an earlier task."


def load_image(path: str | Path) -> Image.Image:
    """Open an image file fully (so truncation is caught now) and return it as an RGB ``PIL.Image``.

    EXIF rotation is applied; transparency is flattened onto white (text drawn on a transparent background stays
    readable); 16-bit and float images are rescaled to 8 bits; animated images give their first frame.
    """
    p = Path(path)
    if not p.exists():
        raise ExpertInputError(f"Image file not found: {p}.", hint=_HINT)
    if not p.is_file():
        raise ExpertInputError(f"Expected an image file but {p} is not a regular file.", hint=_HINT)
    if p.stat().st_size == 0:
        raise ExpertInputError(f"Image file {p.name} is empty (0 bytes).", hint=_HINT)
    check_image_pixels(p)  # a decompression bomb is refused from its header (MediaTooLarge), before decoding
    try:
        with Image.open(p) as im:
            im.load()  # decode now: a truncated file fails here, not later inside a model
            return to_rgb(ImageOps.exif_transpose(im) or im)
    except UnidentifiedImageError:
        raise ExpertInputError(f"{p.name} is not an image file that can be read.", hint=_HINT) from None
    except Image.DecompressionBombError as exc:
        raise ExpertInputError(
            f"Image {p.name} is too large to process safely: {exc}", hint="Resize it to a few megapixels first."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ExpertInputError(f"Image {p.name} is broken or truncated ({exc}).", hint=_HINT) from None


def as_image(image: str | Path | Image.Image) -> Image.Image:
    """Accept a path or an already loaded image; return an RGB image."""
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else to_rgb(image)
    return load_image(image)


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB, flattening transparency onto white."""
    if im.mode == "RGB":
        return im.copy()
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        return Image.fromarray(a.astype(np.uint8)).convert("RGB")
    if (im.mode == "P" and "transparency" in im.info) or im.mode in ("LA", "PA", "La"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im.convert("RGB")


def to_png_bytes(image: Image.Image | np.ndarray[Any, Any]) -> bytes:
    """Encode a PIL image or a uint8 array (H×W or H×W×3 RGB) as PNG bytes."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.ascontiguousarray(image.astype(np.uint8, copy=False)))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def to_rgb_array(image: Image.Image) -> np.ndarray[Any, Any]:
    """A contiguous uint8 H×W×3 RGB array (what mediapipe wants)."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def to_bgr_array(image: Image.Image) -> np.ndarray[Any, Any]:
    """A contiguous uint8 H×W×3 BGR array (what OpenCV and rapidocr want)."""
    return np.ascontiguousarray(to_rgb_array(image)[:, :, ::-1])


def image_slot(inputs: dict[str, Any], slot: str = "image") -> tuple[Path, Image.Image]:
    """The path in an expert's media slot and the RGB image loaded from it (``ExpertInputError`` when unusable)."""
    value = inputs.get(slot)
    if isinstance(value, str) and value.strip():
        value = Path(value)
    if not isinstance(value, Path):
        raise ExpertInputError(f"Slot {slot!r} needs an image file, got {type(value).__name__}.", hint=_HINT)
    return value, load_image(value)
