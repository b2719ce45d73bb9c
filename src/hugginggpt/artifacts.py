"""Content-addressed artifact store: every input and output file lives in the workspace under its sha256."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from .media import MIME_EXT, mime_for

ArtifactKind = Literal["text", "image", "audio", "video", "json"]


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


class ArtifactStore:
    """Writes artifacts into ``<workspace>/artifacts/<sha256><ext>``; identical content is stored once."""

    def __init__(self, workspace: Path) -> None:
        self.root = Path(workspace).resolve() / "artifacts"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._index: dict[str, Artifact] = {}

    def put_bytes(self, data: bytes, kind: ArtifactKind, *, ext: str | None = None, mime: str | None = None,
                  **provenance: Any) -> Artifact:
        sha = hashlib.sha256(data).hexdigest()
        ext = _normalise_ext(ext, mime, kind)
        path = self.root / f"{sha}{ext}"
        with self._lock:
            if not path.exists():
                tmp = path.with_suffix(path.suffix + ".part")
                tmp.write_bytes(data)
                tmp.replace(path)
        text = data.decode("utf-8") if kind == "text" else None
        art = Artifact(sha256=sha, kind=kind, mime=mime or mime_for(path.name), path=path, size=len(data),
                       text=text, **provenance)
        self._index[sha] = art
        return art

    def put_text(self, text: str, **provenance: Any) -> Artifact:
        return self.put_bytes(text.encode("utf-8"), "text", ext=".txt", mime="text/plain", **provenance)

    def put_file(self, src: Path, kind: ArtifactKind, **provenance: Any) -> Artifact:
        src = Path(src)
        h = hashlib.sha256()
        with src.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        sha = h.hexdigest()
        ext = _normalise_ext(src.suffix, None, kind)
        path = self.root / f"{sha}{ext}"
        with self._lock:
            if not path.exists():
                tmp = path.with_suffix(path.suffix + ".part")
                shutil.copyfile(src, tmp)
                tmp.replace(path)
        text = path.read_text(encoding="utf-8") if kind == "text" else None
        art = Artifact(sha256=sha, kind=kind, mime=mime_for(path.name), path=path, size=path.stat().st_size,
                       text=text, **provenance)
        self._index[sha] = art
        return art

    def get(self, sha256: str) -> Artifact | None:
        if sha256 in self._index:
            return self._index[sha256]
        if not all(c in "0123456789abcdef" for c in sha256) or len(sha256) != 64:
            return None
        for path in self.root.glob(f"{sha256}.*"):
            if path.suffix == ".part":
                continue
            kind = _kind_of_ext(path.suffix)
            return Artifact(sha256=sha256, kind=kind, mime=mime_for(path.name), path=path,
                            size=path.stat().st_size,
                            text=path.read_text(encoding="utf-8") if kind == "text" else None)
        return None

    def contains_path(self, path: Path) -> bool:
        try:
            return Path(path).resolve().parent == self.root and Path(path).exists()
        except OSError:
            return False


def _normalise_ext(ext: str | None, mime: str | None, kind: str) -> str:
    if ext:
        ext = ext if ext.startswith(".") else f".{ext}"
        ext = ext.lower()
        if ext.replace(".", "").isalnum() and len(ext) <= 6:
            return ext
    if mime and mime in MIME_EXT:
        return MIME_EXT[mime]
    return _DEFAULT_EXT.get(kind, ".bin")


def _kind_of_ext(ext: str) -> ArtifactKind:
    from .media import media_of_name

    if ext == ".txt":
        return "text"
    if ext == ".json":
        return "json"
    media = media_of_name(f"x{ext}")
    return media if media in ("image", "audio", "video") else "json"  # type: ignore[return-value]
