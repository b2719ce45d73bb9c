"""Image I/O shared by the experts and the hub backends: safe loading, PNG encoding, OpenCV conversion.

Every expert reads its input through :func:`load_image`, so a missing, empty, truncated or non-image file gives the
same clear ``ExpertInputError`` whichever model was asked, and no expert holds an image larger than
``max_image_side`` (``imaging``): a larger input is downscaled once, right after decoding.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ExpertInputError
from ..imaging import check_image_pixels, max_image_side

_HINT = "Give a PNG, JPEG, GIF, BMP, WebP or TIFF image, or feed one from an earlier task."
# Modes PIL resizes directly: a larger image of one of them is downscaled before it is made RGB (no full-size copy).
_RESIZABLE = frozenset({"RGB", "RGBA", "L", "LA", "I", "F"})
# EXIF orientation -> the transpose that puts the picture upright (as ``ImageOps.exif_transpose``).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def load_image(path: str | Path, *, max_side: int | None = None) -> Image.Image:
    """Open an image file fully (so truncation is caught now) and return it as an RGB ``PIL.Image`` whose longer
    side is at most ``max_side`` (default: the process-wide ``max_image_side``).

    A larger image is downscaled once, right after decoding (a JPEG is decoded at a reduced scale already), and
    the full-size pixels are dropped: ``info["original_size"]`` keeps the upright size of the file, for experts
    that report coordinates. EXIF rotation is applied; transparency is flattened onto white (text drawn on a
    transparent background stays readable); 16-bit and float images are rescaled to 8 bits; animated images give
    their first frame.
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
            return _decode(im, int(max_side or max_image_side()))
    except UnidentifiedImageError:
        raise ExpertInputError(f"{p.name} is not an image file that can be read.", hint=_HINT) from None
    except Image.DecompressionBombError as exc:
        raise ExpertInputError(
            f"Image {p.name} is too large to process safely: {exc}", hint="Resize it to a few megapixels first."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ExpertInputError(f"Image {p.name} is broken or truncated ({exc}).", hint=_HINT) from None


def _decode(im: Image.Image, side: int) -> Image.Image:
    """``im`` decoded (truncation fails here, not later inside a model), at most ``side`` on its longer side, upright
    and RGB, holding at most one full-size decoded copy at a time."""
    width, height = im.size
    orientation = im.getexif().get(0x0112, 1)
    if im.format == "JPEG" and max(width, height) > side:
        im.draft("RGB", (side, side))  # JPEG decodes at 1/2, 1/4 or 1/8 scale, never below the size asked
    im.load()  # decode now: a truncated file fails here, not later inside a model
    work = im if im.mode in _RESIZABLE else to_rgb(im)
    scale = side / max(work.size)
    if scale < 1:
        size = (max(1, round(work.width * scale)), max(1, round(work.height * scale)))
        work = work.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = work if work is not im and work.mode == "RGB" else to_rgb(work)  # to_rgb copies: ``im`` is closed next
    del work
    if orientation in _UPRIGHT:
        out = out.transpose(_UPRIGHT[orientation])
        width, height = (height, width) if orientation >= 5 else (width, height)
    out.info["original_size"] = (width, height)
    return out


def original_size(image: Image.Image) -> tuple[int, int]:
    """The upright size of the file ``image`` was loaded from (``load_image``), or its own size."""
    size = image.info.get("original_size")
    return (int(size[0]), int(size[1])) if size else image.size


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
