"""Safe image intake: refuse decompression bombs from the header, before any pixel is decoded.

A PNG of a few hundred kilobytes can declare 13000 x 13000 pixels and expand to gigabytes when decoded. Every place
an image enters (user files, allowed-directory paths, URL downloads, uploads, expert outputs, the experts' own
loading) calls :func:`check_image_pixels` first: ``PIL.Image.open`` only parses the header, so the declared size is
known for the cost of a few bytes, and anything over ``max_image_pixels`` ends as a named ``MediaTooLarge``.

An image within the limit is decoded by the experts at most ``max_image_side`` pixels on its longer side
(``codec.image.load_image`` downscales it once, right after decoding), so what each task holds is bounded by that
setting, not by the input.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
from pathlib import Path
from typing import BinaryIO

from .errors import MediaTooLarge

log = logging.getLogger(__name__)

DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
DEFAULT_MAX_IMAGE_SIDE = 2048
_HINT = ("Resize the image to at most {limit:,} pixels (about {side} x {side}), or raise max_image_pixels "
         "(env HUGGINGGPT_MAX_IMAGE_PIXELS).")

# The formats inputs may have (what the resolver sniffs); exotic PIL parsers never see hostile bytes here.
_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
# The process-wide limit used where no configuration reaches (the experts' own loading, uploads). ``HuggingGPT``
# sets it from its configuration; explicit ``max_pixels`` arguments take precedence.
_process_limit = DEFAULT_MAX_IMAGE_PIXELS
_process_side = DEFAULT_MAX_IMAGE_SIDE


def set_max_image_pixels(limit: int) -> None:
    """Set the process-wide pixel limit (what :func:`check_image_pixels` uses when no limit is passed).

    PIL's own guard (``Image.MAX_IMAGE_PIXELS``) is aligned with it, so that a decode reached by another route still
    warns at the limit and fails at twice the limit instead of at PIL's default of about 179 megapixels.
    """
    global _process_limit
    from PIL import Image

    _process_limit = int(limit)
    Image.MAX_IMAGE_PIXELS = int(limit)


def max_image_pixels() -> int:
    """The process-wide pixel limit."""
    return _process_limit


def set_max_image_side(side: int) -> None:
    """Set the longest side, in pixels, of the images the experts decode (``max_image_side``)."""
    global _process_side
    _process_side = int(side)


def max_image_side() -> int:
    """The longest side of a decoded working image (process-wide)."""
    return _process_side


def check_image_pixels(source: str | os.PathLike[str] | bytes | BinaryIO, *, max_pixels: int | None = None,
                       name: str | None = None) -> tuple[int, int] | None:
    """Check an image's declared size from its header without decoding it.

    ``source`` is a path, the file's bytes, or a readable binary file object (its position is restored). Returns
    ``(width, height)``, or None when PIL does not recognise the data as an image (sniffing and decoding errors are
    reported by the callers that know what the file was meant to be). Raises ``MediaTooLarge`` when width x height
    (per frame) is over ``max_pixels`` (default: the process-wide limit).
    """
    from PIL import Image, UnidentifiedImageError

    limit = int(max_pixels if max_pixels is not None else _process_limit)
    label = name or (Path(os.fspath(source)).name if isinstance(source, (str, os.PathLike)) else "The image")
    fileobj: BinaryIO
    restore: int | None = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        fileobj = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        fileobj = open(source, "rb")  # noqa: SIM115 - closed below
    else:
        fileobj = source
        restore = fileobj.tell()
    try:
        with warnings.catch_warnings():
            # PIL warns above its own limit; the decision here is ours, from the header's declared size.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                with Image.open(fileobj, formats=_FORMATS) as im:
                    width, height = im.size
            except Image.DecompressionBombError as exc:
                # PIL refused in open(): over twice its own limit (ours, once set_max_image_pixels ran).
                m = re.search(r"\((\d+) pixels\)", str(exc))
                raise _too_large(label, None, limit, int(m.group(1)) if m else None) from None
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
                return None
    finally:
        if restore is not None:
            fileobj.seek(restore)
        elif fileobj is not source:
            fileobj.close()
    if width * height > limit:
        raise _too_large(label, (width, height), limit)
    return width, height


def _too_large(label: str, size: tuple[int, int] | None, limit: int, pixels: int | None = None) -> MediaTooLarge:
    side = int(limit ** 0.5)
    if size:
        declared = f"{size[0]} x {size[1]} = {size[0] * size[1]:,} pixels"
    else:
        declared = f"{pixels:,} pixels" if pixels else "more pixels than PIL allows"
    log.warning("refused image %s: %s (limit %s)", label, declared, limit)
    return MediaTooLarge(f"{label} is too large to decode safely: {declared}; the limit is {limit:,} pixels.",
                         hint=_HINT.format(limit=limit, side=side))
