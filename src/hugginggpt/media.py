"""Media types of literal values: file extensions, MIME types, URL/path detection."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image": (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"),
    "audio": (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus"),
    "video": (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif"),
}
MIME_EXT = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/tiff": ".tiff",
    "audio/x-wav": ".wav",
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/ogg": ".ogg",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/x-msvideo": ".avi",
    "video/quicktime": ".mov",
    "text/plain": ".txt",
    "application/json": ".json",
}
_URL = re.compile(r"^https?://", re.I)
# A file name or path in free text (a request, a chat turn, an answer): optional leading ``/``, directories
# (``~``, ``.``, ``..``, dotted names; ``//`` tolerated), a name with a word character before its last ``.``, and an
# extension of 2-5 letters or digits that no word character or ``/`` follows. Nothing is found inside a run of path
# characters (the look-behind), so the path part of ``http://host/a.png`` is not a path, ``a.pngxyz`` is no
# ``a.png``, and matching stays linear in the length of the text: a match can start only where a run starts, and
# each segment of the run is scanned a bounded number of times (a 5 MB run of word characters takes under a
# second). Non-media extensions (``.txt``, ``.tar.gz``) are found too: callers keep the media they want.
PATH_RE = re.compile(r"(?<![\w/.~-])/?(?:[\w~.-]+/+)*[\w~.-]*\w\.[A-Za-z0-9]{2,5}(?![\w/])")


def is_url(value: str) -> bool:
    return bool(_URL.match(value.strip()))


def find_paths(text: str) -> list[str]:
    """Every file name or path in ``text``, in order (``examples/cat.png``, ``~/a.b/c.jpeg``, ``/ws/<sha>.wav``,
    ``notes.txt``); ``PATH_RE.finditer`` gives their offsets."""
    return [m.group() for m in PATH_RE.finditer(text)]


def media_of_name(name: str) -> str | None:
    """The media type a file name or URL implies by its extension (``gif`` counts as image), or None."""
    suffix = PurePosixPath(name.split("?", 1)[0].strip()).suffix.lower()
    for media in ("image", "audio", "video"):
        if suffix in EXTENSIONS[media]:
            return media
    return None


def looks_like_resource(value: str) -> bool:
    """True when a literal is meant as a file or URL rather than plain text."""
    v = value.strip()
    if not v or "\n" in v or (" " in v and not is_url(v)):
        return False
    return is_url(v) or media_of_name(v) is not None


def mime_for(path: str) -> str:
    import mimetypes

    suffix = PurePosixPath(path).suffix.lower()
    for mime, ext in MIME_EXT.items():
        if ext == suffix:
            return mime
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
