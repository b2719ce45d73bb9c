"""File formats by their signature (magic bytes): one table for user files and expert outputs alike.

``sniff(head)`` names the format that a file's first bytes show; ``resources`` uses it to refuse a file whose content
does not match its slot, and ``execution.outputs`` to check that an expert's "audio" really is a sound container.
Containers that hold either sound or pictures (MP4, WebM/Matroska, Ogg) list both kinds, the usual one first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    kinds: tuple[str, ...]  # the media it may hold, the usual one first
    ext: dict[str, str]  # extension by kind
    test: Callable[[bytes], bool]

    @property
    def ambiguous(self) -> bool:
        """Whether the signature leaves the flavour open (MP4 audio or video, Ogg Vorbis or Theora...)."""
        return len(self.kinds) > 1


def _mp3(d: bytes) -> bool:
    """An ID3 tag, or an MPEG audio frame header (11 sync bits, a layer that is not the reserved 00)."""
    return d[:3] == b"ID3" or (len(d) > 1 and d[0] == 0xFF and (d[1] & 0xE0) == 0xE0 and (d[1] & 0x06) != 0)


def _mp4_audio_brand(d: bytes) -> bool:
    return d[8:12] in (b"M4A ", b"M4B ")


FORMATS: tuple[Format, ...] = (
    Format("PNG", ("image",), {"image": ".png"}, lambda d: d[:4] == b"\x89PNG"),
    Format("JPEG", ("image",), {"image": ".jpg"}, lambda d: d[:3] == b"\xff\xd8\xff"),
    Format("GIF", ("image", "video"), {"image": ".gif", "video": ".gif"}, lambda d: d[:6] in (b"GIF87a", b"GIF89a")),
    Format("BMP", ("image",), {"image": ".bmp"}, lambda d: d[:2] == b"BM"),
    Format("WebP", ("image",), {"image": ".webp"}, lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP"),
    Format("TIFF", ("image",), {"image": ".tif"}, lambda d: d[:4] in (b"II*\x00", b"MM\x00*")),
    Format("WAV", ("audio",), {"audio": ".wav"}, lambda d: d[:4] == b"RIFF" and d[8:12] == b"WAVE"),
    Format("FLAC", ("audio",), {"audio": ".flac"}, lambda d: d[:4] == b"fLaC"),
    Format("MP3", ("audio",), {"audio": ".mp3"}, _mp3),
    Format("M4A", ("audio", "video"), {"audio": ".m4a", "video": ".mp4"},
           lambda d: d[4:8] == b"ftyp" and _mp4_audio_brand(d)),
    Format("MP4", ("video", "audio"), {"video": ".mp4", "audio": ".m4a"}, lambda d: d[4:8] == b"ftyp"),
    Format("Ogg", ("audio", "video"), {"audio": ".ogg", "video": ".ogv"}, lambda d: d[:4] == b"OggS"),
    Format("WebM/Matroska", ("video", "audio"), {"video": ".webm", "audio": ".webm"},
           lambda d: d[:4] == b"\x1a\x45\xdf\xa3"),
    Format("AVI", ("video",), {"video": ".avi"}, lambda d: d[:4] == b"RIFF" and d[8:12] == b"AVI "),
)


def sniff(head: bytes) -> Format | None:
    """The format a file's first bytes (32 are enough) show, or None."""
    return next((f for f in FORMATS if f.test(head)), None)


def names_of(kind: str) -> list[str]:
    """The names of the formats that may hold ``kind`` (for messages)."""
    return [f.name for f in FORMATS if kind in f.kinds]
