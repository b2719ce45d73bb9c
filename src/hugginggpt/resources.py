"""Where inputs may come from: files the user gave, allowed directories, and (when enabled) http(s) URLs.

Everything else is a ``ResourceError``. Paths are resolved (symlinks included) before the check, so ``../`` tricks
and links that point outside the allowed directories are refused.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .artifacts import Artifact, ArtifactStore
from .errors import ResourceAccessDenied, ResourceError
from .media import is_url, media_of_name

log = logging.getLogger(__name__)

# Magic numbers of the formats experts read; used to refuse files whose content does not match the slot.
_SNIFF: list[tuple[bytes, int, str]] = [
    (b"\x89PNG", 0, "image"), (b"\xff\xd8\xff", 0, "image"), (b"GIF8", 0, "image"), (b"BM", 0, "image"),
    (b"WEBP", 8, "image"), (b"II*\x00", 0, "image"), (b"MM\x00*", 0, "image"),
    (b"WAVE", 8, "audio"), (b"fLaC", 0, "audio"), (b"OggS", 0, "audio"), (b"ID3", 0, "audio"),
    (b"\xff\xfb", 0, "audio"), (b"\xff\xf3", 0, "audio"), (b"\xff\xf2", 0, "audio"),
    (b"ftyp", 4, "video"), (b"\x1a\x45\xdf\xa3", 0, "video"), (b"AVI ", 8, "video"),
]


def sniff_media(path: Path) -> str | None:
    """The media type a file's first bytes show (image/audio/video), or None."""
    try:
        with Path(path).open("rb") as f:
            head = f.read(32)
    except OSError:
        return None
    for magic, offset, media in _SNIFF:
        if head[offset:offset + len(magic)] == magic:
            if media == "video" and magic == b"ftyp" and head[8:12] in (b"M4A ", b"M4B "):
                return "audio"
            return media
    return None


class ResourceResolver:
    """Turns a literal argument (path or URL) into an artifact in the store, enforcing the access rules."""

    def __init__(self, store: ArtifactStore, *, base_dir: Path, allowed_dirs: list[Path], user_files: list[Path],
                 allow_urls: bool = False, allow_private_urls: bool = False, max_download_mb: float = 50.0,
                 timeout: float = 30.0) -> None:
        self.store = store
        self.base_dir = Path(base_dir).resolve()
        self.allowed_dirs = [Path(d).resolve() for d in allowed_dirs]
        self.user_files = {Path(f).resolve() for f in user_files}
        self.allow_urls = allow_urls
        self.allow_private_urls = allow_private_urls
        self.max_bytes = int(max_download_mb * 1024 * 1024)
        self.timeout = timeout

    def check_user_file(self, path: Path) -> Path:
        """Validate a file the user attached (``--file``/upload): it must exist and be readable."""
        p = Path(path).expanduser()
        if not p.is_file():
            raise ResourceError(f"File not found: {str(path)!r}.", hint="Check the path given with --file.")
        return p.resolve()

    def resolve(self, value: str, media: str, *, task_id: int | None = None) -> Artifact:
        value = value.strip()
        if is_url(value):
            return self._download(value, media, task_id)
        path = self._find(value)
        found = sniff_media(path)
        if media in ("image", "audio", "video") and found != media:
            declared = media_of_name(path.name)
            if found is None:
                raise ResourceError(
                    f"{value!r} is not a readable {media} file (unknown or unsupported file type).",
                    hint=f"Give a {media} in a common format ({_formats(media)}).")
            if not (media == "image" and declared == "image" and found == "video"):
                raise ResourceError(f"{value!r} is a {found} file, but this task needs a {media}.",
                                    hint="Check which file goes with which part of the request.")
        return self.store.put_file(path, media, source=str(path), task_id=task_id)  # type: ignore[arg-type]

    def _find(self, value: str) -> Path:
        raw = Path(value).expanduser()
        candidates = [raw] if raw.is_absolute() else [self.base_dir / raw]
        # JARVIS-style "/examples/a.jpg" means relative to the served directory.
        if raw.is_absolute():
            candidates += [d / str(raw).lstrip("/") for d in self.allowed_dirs]
        # A user file may be named by its base name only.
        candidates += [f for f in self.user_files if f.name == raw.name]
        refused: Path | None = None
        for cand in candidates:
            try:
                real = cand.resolve()
            except (OSError, RuntimeError):
                continue
            if not self._allowed(real):
                if real.exists():
                    refused = real
                continue
            if real.is_file():
                return real
        if refused is not None:
            raise ResourceAccessDenied(
                f"Access to {value!r} is not allowed: it is outside the allowed directories.",
                hint="Attach the file with --file (or upload it), or add its directory to allowed_dirs.")
        if ".." in Path(value).parts:
            raise ResourceAccessDenied(f"Access to {value!r} is not allowed: path escapes the allowed directories.",
                                hint="Use a path inside the working directory or attach the file with --file.")
        raise ResourceError(f"File not found: {value!r}.",
                            hint="Check the name, or attach the file with --file.")

    def _allowed(self, real: Path) -> bool:
        if real in self.user_files:
            return True
        return any(real == d or d in real.parents for d in self.allowed_dirs)

    def _download(self, url: str, media: str, task_id: int | None) -> Artifact:
        if not self.allow_urls:
            raise ResourceAccessDenied(f"URL inputs are disabled: {url!r}.",
                                hint="Download the file and attach it, or set allow_urls: true.")
        import httpx

        if not self.allow_private_urls:
            _refuse_private_host(url)
        try:
            # Redirects are not followed: a public URL could otherwise bounce the download to a private address.
            with httpx.stream("GET", url, timeout=self.timeout, follow_redirects=False) as resp:
                resp.raise_for_status()
                chunks, total = [], 0
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise ResourceError(f"{url!r} is larger than {self.max_bytes // (1024 * 1024)} MB.",
                                            hint="Raise max_download_mb or give a smaller file.")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise ResourceError(f"Could not download {url!r}: {exc}.", hint="Check the URL and the network.") from exc
        data = b"".join(chunks)
        ext = Path(url.split("?", 1)[0]).suffix or None
        art = self.store.put_bytes(data, media, ext=ext, source=url, task_id=task_id)  # type: ignore[arg-type]
        if media in ("image", "audio", "video") and sniff_media(art.path) != media:
            raise ResourceError(f"{url!r} did not return a {media} file.", hint="Check the URL.")
        return art


def _formats(media: str) -> str:
    from .media import EXTENSIONS

    return ", ".join(e.lstrip(".") for e in EXTENSIONS.get(media, ()))


def _refuse_private_host(url: str) -> None:
    """Refuse URLs whose host resolves to loopback, private, link-local or reserved addresses (SSRF guard)."""
    import ipaddress
    import socket
    import urllib.parse

    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise ResourceError(f"Cannot resolve the host of {url!r}: {exc}.", hint="Check the URL.") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise ResourceAccessDenied(f"URL {url!r} points at a non-public address ({ip}); refused.",
                                hint="Only public http(s) URLs are fetched; set allow_private_urls: true to allow "
                                     "local servers.")
