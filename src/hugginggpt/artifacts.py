"""Content-addressed artifact store: every input and output file lives in the workspace under its sha256.

Several stores may share one workspace (the server beside the CLI, the web UI's per-session agents, other
processes). Writes therefore go to a unique temporary file in the store directory and land under their final name
with an atomic ``os.replace``: a reader sees a whole file or none, never a torn one. A file is trusted only after its
content was hashed in this process (again whenever its size, inode or mtime changed), so a corrupted file is treated
as missing (and rewritten when the same content is stored again) instead of being served forever. The in-memory
index is a bounded LRU of provenance records without the texts themselves; texts are read back from disk.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from pydantic import BaseModel, Field

from .errors import ResourceError, StorageError
from .media import MIME_EXT, media_of_name, mime_for

log = logging.getLogger(__name__)

ArtifactKind = Literal["text", "image", "audio", "video", "json"]

_CHUNK = 1 << 20


class Reader(Protocol):
    """Anything with a binary ``read(n)`` (a file, or a wrapper that caps what it yields)."""

    def read(self, n: int = -1, /) -> bytes: ...


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class Artifact(BaseModel):
    """A typed value stored as a file named by its content hash, with provenance."""

    sha256: str
    kind: ArtifactKind
    mime: str
    path: Path
    size: int
    text: str | None = Field(None, description="The value itself, for text artifacts.")
    task_id: int | None = None
    model_id: str | None = None
    source: str | None = Field(None, description="Where an input came from (user file, URL, upload).")
    inputs: dict[str, str] = Field(default_factory=dict, description="slot -> input value or artifact sha256")

    @property
    def name(self) -> str:
        return self.path.name

    def summary(self) -> str:
        if self.kind == "text" and self.text is not None:
            return self.text
        return f"{self.kind} file {self.path}"


_DEFAULT_EXT = {"text": ".txt", "json": ".json", "image": ".png", "audio": ".wav", "video": ".mp4"}
# (device, inode, size, mtime_ns) of a file whose content was hashed: the same signature means the same content.
_Sig = tuple[int, int, int, int]


class ArtifactStore:
    """Writes artifacts into ``<workspace>/artifacts/<sha256><ext>``; identical content is stored once."""

    def __init__(self, workspace: Path, *, index_size: int = 2048) -> None:
        self.root = Path(workspace).resolve() / "artifacts"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, self.root) from exc
        self._lock = threading.Lock()
        self._index_size = max(1, index_size)
        # sha256 -> (the artifact without its text, the signature of the file verified for it)
        self._index: OrderedDict[str, tuple[Artifact, _Sig]] = OrderedDict()

    # ----- writing ----------------------------------------------------------------------------------------------
    def put_bytes(self, data: bytes, kind: ArtifactKind, *, ext: str | None = None, mime: str | None = None,
                  **provenance: Any) -> Artifact:
        sha = hashlib.sha256(data).hexdigest()
        path = self.root / f"{sha}{_normalise_ext(ext, mime, kind)}"
        sig = self._trusted(path, sha)
        if sig is None:
            tmp = self._write_temp(sha, lambda f: f.write(data))
            sig = self._land(tmp, path)
        text = data.decode("utf-8", errors="replace") if kind == "text" else None
        art = Artifact(sha256=sha, kind=kind, mime=mime or mime_for(path.name), path=path, size=len(data),
                       text=text, **provenance)
        self._remember(art, sig)
        return art

    def put_text(self, text: str, **provenance: Any) -> Artifact:
        return self.put_bytes(text.encode("utf-8", errors="replace"), "text", ext=".txt", mime="text/plain",
                              **provenance)

    def put_file(self, src: Path, kind: ArtifactKind, **provenance: Any) -> Artifact:
        """Store a copy of a file (read once: hashed while it is copied)."""
        src = Path(src)
        try:
            f = src.open("rb")
        except OSError as exc:
            raise ResourceError(f"Cannot read {src.name!r}: {exc.strerror or exc}.",
                                hint="Check that the file exists and is readable.") from exc
        with f:
            return self.put_stream(f, kind, ext=src.suffix, **provenance)

    def put_stream(self, f: Reader, kind: ArtifactKind, *, ext: str | None = None, **provenance: Any) -> Artifact:
        """Store what a binary stream yields from its current position to its end.

        The content is hashed while it is copied into a temporary file of the store, so the source is read once
        (a file descriptor opened and checked by the resolver is never reopened by name). Any exception while
        reading (a size limit in a wrapping reader, an I/O error) removes the temporary file and propagates.
        """
        h = hashlib.sha256()
        size = 0

        def copy(out: BinaryIO) -> None:
            nonlocal size
            while True:
                try:
                    chunk = f.read(_CHUNK)
                except OSError as exc:
                    raise ResourceError(f"Cannot read the input: {exc.strerror or exc}.",
                                        hint="Check that the file is readable and not being changed.") from exc
                if not chunk:
                    return
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)

        tmp = self._write_temp("stream", copy)
        sha = h.hexdigest()
        path = self.root / f"{sha}{_normalise_ext(ext, None, kind)}"
        sig = self._trusted(path, sha)
        if sig is None:
            sig = self._land(tmp, path)
        else:
            _unlink_quietly(tmp)
        text = self._read_text(path) if kind == "text" else None
        art = Artifact(sha256=sha, kind=kind, mime=mime_for(path.name), path=path, size=size, text=text,
                       **provenance)
        self._remember(art, sig)
        return art

    def _write_temp(self, label: str, write: Callable[[BinaryIO], Any]) -> Path:
        """A unique temporary file in the store directory holding what ``write(file)`` writes."""
        tmp: Path | None = None
        try:
            fd, name = tempfile.mkstemp(dir=self.root, prefix=f".{label[:16]}.", suffix=".part")
            tmp = Path(name)
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; artifacts stay as readable as files written as usual
                os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as out:
                write(out)
            return tmp
        except OSError as exc:
            if tmp is not None:
                _unlink_quietly(tmp)
            raise storage_error(exc, self.root) from exc
        except BaseException:
            if tmp is not None:
                _unlink_quietly(tmp)
            raise

    def _land(self, tmp: Path, path: Path) -> _Sig:
        """Move a complete temporary file to its final name atomically (a concurrent identical write is harmless:
        the content is the same)."""
        try:
            os.replace(tmp, path)
            return _sig(os.stat(path, follow_symlinks=False))
        except OSError as exc:
            _unlink_quietly(tmp)
            raise storage_error(exc, self.root) from exc

    # ----- reading ----------------------------------------------------------------------------------------------
    def get(self, sha256: str, *, with_text: bool = True) -> Artifact | None:
        """The artifact with this hash, or None when there is none or its file is corrupted (hash mismatch).

        A text artifact's ``text`` is read from disk (the index keeps none); ``with_text=False`` skips that read for
        callers that only need the file."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            return None
        with self._lock:
            entry = self._index.get(sha256)
            if entry is not None:
                self._index.move_to_end(sha256)
        if entry is not None:
            art, _ = entry
            if self._trusted(art.path, sha256) is not None:
                return self._with_text(art) if with_text else art
            with self._lock:
                self._index.pop(sha256, None)
        for path in sorted(self.root.glob(f"{sha256}.*")):
            if path.suffix == ".part":
                continue
            sig = self._trusted(path, sha256)
            if sig is None:
                continue
            kind = _kind_of_ext(path.suffix)
            art = Artifact(sha256=sha256, kind=kind, mime=mime_for(path.name), path=path, size=sig[2])
            self._remember(art, sig)
            return self._with_text(art) if with_text else art
        return None

    def contains_path(self, path: Path) -> bool:
        try:
            return Path(path).resolve().parent == self.root and Path(path).exists()
        except (OSError, ValueError):
            return False

    def _with_text(self, art: Artifact) -> Artifact:
        if art.kind != "text":
            return art
        return art.model_copy(update={"text": self._read_text(art.path)})

    @staticmethod
    def _read_text(path: Path) -> str:
        return path.read_text(encoding="utf-8", errors="replace")

    def _trusted(self, path: Path, sha: str) -> _Sig | None:
        """The signature of ``path`` when it is a regular file whose content hashes to ``sha``, else None.

        The hash is computed once per file state (signature) in this process; a mismatch is logged and the file is
        removed (when it is still the same file), so the next store of that content rewrites it.
        """
        try:
            st = os.stat(path, follow_symlinks=False)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # a symlink or anything else planted in the store is never followed
        sig = _sig(st)
        with self._lock:
            entry = self._index.get(sha)
        if entry is not None and entry[1] == sig and entry[0].path == path:
            return sig
        try:
            fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            h = hashlib.sha256()
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
            opened = os.fstat(f.fileno())
        if h.hexdigest() == sha:
            return _sig(opened)
        log.warning("artifact %s is corrupted (content hash %s); treated as missing", path.name, h.hexdigest())
        try:
            if _sig(os.stat(path, follow_symlinks=False))[:2] == _sig(opened)[:2]:
                path.unlink()
        except OSError:
            pass
        return None

    def _remember(self, art: Artifact, sig: _Sig) -> None:
        slim = art if art.text is None else art.model_copy(update={"text": None})
        with self._lock:
            self._index[art.sha256] = (slim, sig)
            self._index.move_to_end(art.sha256)
            while len(self._index) > self._index_size:
                self._index.popitem(last=False)


def storage_error(exc: OSError, where: Path) -> StorageError:
    """A named error for a workspace that cannot be written, with what to do about it."""
    hints = {
        errno.ENOSPC: "The disk holding the workspace is full: free some space (or set workspace to another disk).",
        errno.EDQUOT: "The disk quota of the workspace is used up: free some space or raise the quota.",
        errno.EROFS: "The workspace is on a read-only file system: set workspace to a writable directory.",
        errno.EACCES: "The workspace is not writable by this user: fix its permissions or set another workspace.",
        errno.EPERM: "The workspace is not writable by this user: fix its permissions or set another workspace.",
        errno.EFBIG: "The file is too large for the workspace's file system.",
    }
    reason = exc.strerror or str(exc)
    return StorageError(f"Cannot write to the workspace ({where}): {reason}.",
                        hint=hints.get(exc.errno or 0, "Check the workspace directory and its disk."))


def _sig(st: os.stat_result) -> _Sig:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _normalise_ext(ext: str | None, mime: str | None, kind: str) -> str:
    if ext:
        ext = ext if ext.startswith(".") else f".{ext}"
        ext = ext.lower()
        if ext.replace(".", "").isalnum() and ext.isascii() and len(ext) <= 6 and ext != ".part":
            return ext
    if mime and mime in MIME_EXT:
        return MIME_EXT[mime]
    return _DEFAULT_EXT.get(kind, ".bin")


_KINDS: dict[str, ArtifactKind] = {"text": "text", "image": "image", "audio": "audio", "video": "video", "json": "json"}


def artifact_kind(media: str | None, default: ArtifactKind = "json") -> ArtifactKind:
    """A media name (``text``, ``image``, ``audio``, ``video``, ``json``) as an artifact kind; others: ``default``."""
    return _KINDS.get(media or "", default)


def _kind_of_ext(ext: str) -> ArtifactKind:
    if ext == ".txt":
        return "text"
    if ext == ".json":
        return "json"
    media = media_of_name(f"x{ext}")
    return artifact_kind(media) if media in ("image", "audio", "video") else "json"
