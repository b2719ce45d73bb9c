"""Where inputs may come from: files the user gave, allowed directories, and (when enabled) http(s) URLs.

Everything else is a ``ResourceError``. Paths are resolved (symlinks included) before the check, so ``../`` tricks
and links that point outside the allowed directories are refused. The check and the read are one act: a file is
opened once (``O_NOFOLLOW``, ``O_NONBLOCK``), the path the kernel actually opened is checked against the allowed
directories, and the copy into the store is made from that descriptor. A directory swapped for a symlink between
the check and the read therefore cannot redirect the read outside. Only regular files are read (no devices, FIFOs
or directories), within ``max_input_mb``; images are checked for their pixel count before anything decodes them.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .artifacts import Artifact, ArtifactStore, artifact_kind
from .codec.formats import sniff
from .errors import MediaTooLarge, ResourceAccessDenied, ResourceError
from .fetch import Fetcher, refuse_private_host
from .imaging import check_image_pixels
from .media import is_url, media_of_name

log = logging.getLogger(__name__)

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0))
_PATH_MAX, _NAME_MAX = 4096, 255
_MB = 1024 * 1024
_RULE_HINT = ("Inputs may come only from the allowed directories (allowed_dirs) and from attached or uploaded "
              "files: attach or upload the file, or add its directory to allowed_dirs.")


def sniff_bytes(head: bytes) -> str | None:
    """The media type (image/audio/video) that a file's first 32 bytes show, or None (codec/formats.py)."""
    fmt = sniff(head)
    return fmt.kinds[0] if fmt else None


def sniff_media(path: Path) -> str | None:
    """The media type a regular file's first bytes show (image/audio/video), or None (FIFOs are not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return sniff_bytes(os.pread(fd, 32, 0))
    except OSError:
        return None
    finally:
        os.close(fd)


def check_name(value: str) -> None:
    """Refuse names no file can have here (NUL bytes, unencodable lone surrogates, over the OS's length limits)
    with a named ``ResourceError`` instead of the ``ValueError``/``UnicodeError``/``OSError`` the OS would raise."""
    shown = repr(value[:80] + ("..." if len(value) > 80 else ""))
    if "\x00" in value:
        raise ResourceError(f"{shown} is not a valid file name: it contains a NUL byte.", hint="Check the path.")
    try:
        encoded = os.fsencode(value)
    except UnicodeError:
        raise ResourceError(f"{shown} is not a valid file name: it has characters that cannot be encoded.",
                            hint="Check the path (a lone surrogate or a broken encoding).") from None
    if len(encoded) >= _PATH_MAX or any(len(part) > _NAME_MAX for part in encoded.split(b"/")):
        raise ResourceError(f"{shown} is not a valid file name: it is too long.",
                            hint=f"Paths are limited to {_PATH_MAX} bytes and names to {_NAME_MAX}.")


def path_tokens(text: str) -> list[str]:
    """Tokens of a request that name a file by an absolute, home (``~``) or ``..`` path.

    URLs and plain words with slashes ("and/or", "/r/python") are not paths: an absolute token counts when it has a
    file extension or starts with a top-level directory that exists on this machine (``/etc/...``).
    """
    found: list[str] = []
    for raw in re.split(r"[\s\"'`<>()\[\]{},;|]+", text):
        tok = raw.rstrip(":!?")
        if tok.endswith(".") and not tok.endswith(".."):
            tok = tok[:-1]
        if tok.lower().startswith("file://"):
            tok = tok[7:]
        if not tok or "://" in tok or tok.lower().startswith("data:") or tok in found:
            continue
        parts = PurePosixPath(tok).parts
        if (tok.startswith("~") and "/" in tok) or ".." in parts:
            found.append(tok)
        elif tok.startswith("/") and len(parts) >= 2:
            has_ext = PurePosixPath(tok).suffix not in ("", ".")
            try:
                top_dir = len(parts) >= 3 and os.path.isdir("/" + parts[1])
            except (ValueError, UnicodeError):
                top_dir = False
            if has_ext or top_dir:
                found.append(tok)
    return found


class _CappedReader:
    """A binary reader that refuses to yield more than ``limit`` bytes (a file that grows while it is copied)."""

    def __init__(self, f: BinaryIO, limit: int, error: MediaTooLarge) -> None:
        self._f, self._left, self._error = f, limit, error

    def read(self, n: int = -1, /) -> bytes:
        chunk = self._f.read(n)
        self._left -= len(chunk)
        if self._left < 0:
            raise self._error
        return chunk


class ResourceResolver:
    """Turns a literal argument (path or URL) into an artifact in the store, enforcing the access rules."""

    def __init__(self, store: ArtifactStore, *, base_dir: Path, allowed_dirs: list[Path], user_files: list[Path],
                 allow_urls: bool = False, allow_private_urls: bool = False, max_download_mb: float = 50.0,
                 timeout: float = 30.0, max_input_mb: float = 200.0, max_image_pixels: int | None = None,
                 download_deadline: float = 60.0) -> None:
        self.store = store
        self.base_dir = Path(base_dir).resolve()
        self.allowed_dirs = [Path(d).resolve() for d in allowed_dirs]
        self.user_files: set[Path] = set()
        for f in user_files:
            check_name(str(f))
            self.user_files.add(_resolved(_expand(str(f))) or Path(f))
        self.allow_urls = allow_urls
        self.allow_private_urls = allow_private_urls
        self.max_bytes = int(max_download_mb * _MB)
        self.max_input_mb = max_input_mb
        self.max_image_pixels = max_image_pixels
        self.fetcher = Fetcher(max_bytes=self.max_bytes, deadline=download_deadline, timeout=timeout,
                               allow_private=allow_private_urls)

    # ----- files the user attached --------------------------------------------------------------------------------
    def check_user_file(self, path: Path) -> Path:
        """Validate a file the user attached (``--file``/upload): a readable regular file within ``max_input_mb``;
        an image within ``max_image_pixels``. Returns its real path."""
        check_name(str(path))
        real = _resolved(_expand(str(path)))
        if real is None:
            raise ResourceError(f"File not found: {str(path)!r}.", hint="Check the path of the attached file.")
        with self._open(real, str(path), trusted=True) as f:
            if sniff_bytes(_head(f)) == "image":
                check_image_pixels(f, max_pixels=self.max_image_pixels, name=str(path))
        return real

    # ----- literals of a plan -------------------------------------------------------------------------------------
    def resolve(self, value: str, media: str, *, task_id: int | None = None) -> Artifact:
        value = value.strip()
        if is_url(value):
            return self._download(value, media, task_id)
        real = self.locate(value)
        self._check_store_file(real, value)
        with self._open(real, value) as f:
            found = sniff_bytes(_head(f))
            if media in ("image", "audio", "video") and found != media:
                declared = media_of_name(real.name)
                if found is None:
                    empty = os.fstat(f.fileno()).st_size == 0
                    raise ResourceError(
                        f"{value!r} is empty (0 bytes)." if empty else
                        f"{value!r} is not a readable {media} file (unknown or unsupported file type).",
                        hint=f"Give {_a(media)} file in a common format ({_formats(media)}).")
                if not (media == "image" and declared == "image" and found == "video"):
                    raise ResourceError(f"{value!r} is {_a(found)} file, but this task needs {_a(media)}.",
                                        hint="Check which file goes with which part of the request.")
            if found == "image":
                check_image_pixels(f, max_pixels=self.max_image_pixels, name=value)
            capped = _CappedReader(f, int(self.max_input_mb * _MB), self._too_big(value))
            return self.store.put_stream(capped, artifact_kind(media), ext=real.suffix,
                                         source=str(real), task_id=task_id)

    def locate(self, value: str) -> Path:
        """The real path of an existing regular file that ``value`` names inside the allowed places.

        A name that points outside them is refused with the same ``ResourceAccessDenied`` whether or not the
        outside file exists (the answer must not reveal what is on the disk).
        """
        check_name(value)
        real, outside, special = self._lookup(value)
        if real is not None:
            return real
        if special is not None:
            raise ResourceError(f"{value!r} is not a regular file (a directory, device or pipe).",
                                hint="Give the path of a file.")
        if outside:
            raise self._denied(value)
        raise ResourceError(f"File not found: {value!r}.", hint="Check the name, or attach the file.")

    def check_request_paths(self, request: str) -> None:
        """Refuse a request that names a file outside the allowed places (``describe /etc/shadow``), before any
        planning: such a name is never silently ignored or answered from nothing."""
        for token in path_tokens(request):
            try:
                check_name(token)
            except ResourceError:
                continue  # not a usable file name at all; the planner treats it as text
            real, outside, _ = self._lookup(token)
            if real is None and outside:
                raise self._denied(token)

    def _lookup(self, value: str) -> tuple[Path | None, bool, Path | None]:
        """(an allowed regular file it names, whether some reading of it points outside, a non-regular match)."""
        raw = _expand(value)
        if value.startswith("~") and not raw.is_absolute():
            return None, True, None  # "~someone/..." of an unknown user: a home directory, never allowed
        candidates = [raw] if raw.is_absolute() else [self.base_dir / raw]
        # JARVIS-style "/examples/a.jpg" means relative to the served directory.
        if raw.is_absolute() and not value.startswith("~"):
            candidates += [d / str(raw).lstrip("/") for d in self.allowed_dirs]
        # A user file may be named by its base name only.
        candidates += [f for f in self.user_files if f.name == raw.name]
        outside, special = False, None
        for cand in candidates:
            real = _resolved(cand)
            if real is None:
                continue
            if not self._allowed(real):
                outside = True
                continue
            try:
                st = os.stat(real)
            except (OSError, ValueError):
                continue
            if stat.S_ISREG(st.st_mode):
                return real, outside, None
            special = special or real
        return None, outside, special

    def _check_store_file(self, real: Path, value: str) -> None:
        """A file of the artifact store is an input only while its content still matches its name (a corrupted
        artifact must not come back as a new input), and the store's temporary files are never inputs."""
        if real.parent != self.store.root:
            return
        sha = real.name.split(".", 1)[0]
        if re.fullmatch(r"[0-9a-f]{64}", sha) is None:
            raise ResourceError(f"File not found: {value[:200]!r}.", hint="Check the name, or attach the file.")
        if self.store.get(sha, with_text=False) is None:
            raise ResourceError(f"{value[:200]!r} is damaged: its content no longer matches the workspace's record.",
                                hint="Produce or upload the file again.")

    def _allowed(self, real: Path) -> bool:
        if real in self.user_files:
            return True
        return any(real == d or d in real.parents for d in self.allowed_dirs)

    @staticmethod
    def _denied(value: str) -> ResourceAccessDenied:
        return ResourceAccessDenied(
            f"Access to {value[:200]!r} is not allowed: it is outside the allowed directories and is not an "
            "attached file.", hint=_RULE_HINT)

    def _too_big(self, label: str, size: int | None = None) -> MediaTooLarge:
        what = f"is {size / _MB:.1f} MB, over" if size is not None else "grew while it was read, past"
        return MediaTooLarge(f"{label[:200]!r} {what} the {self.max_input_mb:g} MB limit for an input file.",
                             hint="Give a smaller file, or raise max_input_mb.")

    @contextmanager
    def _open(self, real: Path, label: str, *, trusted: bool = False) -> Iterator[BinaryIO]:
        """Open ``real`` once and yield it, after checking what was opened: a regular file, inside the allowed
        places (unless ``trusted``: a file the user attached), within ``max_input_mb``."""
        try:
            if not stat.S_ISREG(os.stat(real, follow_symlinks=False).st_mode):
                # Never open a device or FIFO (opening one can block or have side effects); a symlink here was
                # swapped in after the path was resolved.
                raise self._opened_wrong(real, label, trusted)
            fd = os.open(real, _OPEN_FLAGS)
        except OSError as exc:
            raise _open_error(exc, label, self._denied(label)) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise self._opened_wrong(real, label, trusted)
            opened = _fd_path(fd, real, st)
            if opened is None or not (trusted or self._allowed(opened)):
                log.warning("refused %r: the opened file is %s, outside the allowed places", label, opened)
                raise self._denied(label)
            if st.st_size > self.max_input_mb * _MB:
                raise self._too_big(label, st.st_size)
            f = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        with f:
            yield f

    def _opened_wrong(self, real: Path, label: str, trusted: bool) -> ResourceError:
        if os.path.islink(real) and not trusted:
            return self._denied(label)
        return ResourceError(f"{label[:200]!r} is not a regular file (a directory, device or pipe).",
                             hint="Give the path of a file.")

    # ----- URLs ---------------------------------------------------------------------------------------------------
    def _download(self, url: str, media: str, task_id: int | None) -> Artifact:
        if not self.allow_urls:
            raise ResourceAccessDenied(f"URL inputs are disabled: {url!r}.",
                                       hint="Download the file and attach it, or set allow_urls: true.")
        data = self.fetcher.fetch(url)
        found = sniff_bytes(data[:32])
        if media in ("image", "audio", "video") and found != media:
            raise ResourceError(f"{url!r} did not return {_a(media)} file.", hint="Check the URL.")
        if found == "image":
            check_image_pixels(data, max_pixels=self.max_image_pixels, name=url)
        ext = Path(url.split("?", 1)[0]).suffix or None
        return self.store.put_bytes(data, artifact_kind(media), ext=ext, source=url, task_id=task_id)


def _head(f: BinaryIO) -> bytes:
    head = f.read(32)
    f.seek(0)
    return head


def _expand(value: str) -> Path:
    """``~`` and ``~user`` expanded; an unknown user's ``~name`` stays as it is (``Path.expanduser`` would raise)."""
    return Path(os.path.expanduser(value))


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def _fd_path(fd: int, real: Path, st: os.stat_result) -> Path | None:
    """The path the kernel opened for ``fd`` (Linux: /proc/self/fd), else ``real`` if it is still that file."""
    try:
        link = os.readlink(f"/proc/self/fd/{fd}")
        if link.startswith("/"):
            return Path(link.removesuffix(" (deleted)"))
    except OSError:
        pass
    try:
        now = os.stat(real, follow_symlinks=False)
    except OSError:
        return None
    return real if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino) else None


def _open_error(exc: OSError, label: str, denied: ResourceAccessDenied) -> ResourceError:
    if exc.errno == errno.ELOOP:
        return denied  # the last component became a symlink after the check
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return ResourceError(f"File not found: {label[:200]!r}.", hint="Check the name, or attach the file.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ResourceError(f"{label[:200]!r} cannot be read (permission denied).",
                             hint="Check the file's permissions.")
    if exc.errno == errno.ENAMETOOLONG:
        return ResourceError(f"{label[:200]!r} is not a valid file name: it is too long.", hint="Check the path.")
    return ResourceError(f"{label[:200]!r} cannot be opened: {exc.strerror or exc}.", hint="Check the path.")


def _a(media: str) -> str:
    """``an image``, ``an audio``, ``a video``: the media with its article."""
    return f"{'an' if media[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {media}"


def _formats(media: str) -> str:
    from .media import EXTENSIONS

    return ", ".join(e.lstrip(".") for e in EXTENSIONS.get(media, ()))


# Kept for callers of the earlier module layout.
_refuse_private_host = refuse_private_host
