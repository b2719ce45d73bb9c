"""What a request body may bring in: uploads (sniffed, size-capped, stored in the artifact store) and references to
them. Nothing else on the server's disk is reachable from a body: a path that is not an upload name is refused."""

from __future__ import annotations

import base64
import binascii
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..artifacts import Artifact, ArtifactStore, artifact_kind
from ..errors import RequestTooLarge
from ..history import check_history, clean_turns, recent_history
from ..imaging import check_image_pixels
from ..media import is_url
from ..planning.limits import clean_text
from ..resources import sniff_media
from .errors import APIError
from .schemas import ChatMessage, ContentPart
from .store import ServerDB
from .view import ARTIFACT_PREFIX, NAME_RE, PublicView

_NAME = re.compile(r"^" + NAME_RE + r"$")
MAX_ATTACHMENTS = 256  # files one request may attach over all its messages (uploads named, inline files)
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[\w=.-]+)*;base64,(.*)$", re.S)
# Extension from the content, so that the stored name and the served Content-Type match what the bytes are.
_MAGIC_EXT: list[tuple[bytes, int, str]] = [
    (b"\x89PNG", 0, ".png"), (b"\xff\xd8\xff", 0, ".jpg"), (b"GIF8", 0, ".gif"), (b"BM", 0, ".bmp"),
    (b"WEBP", 8, ".webp"), (b"II*\x00", 0, ".tiff"), (b"MM\x00*", 0, ".tiff"), (b"WAVE", 8, ".wav"),
    (b"fLaC", 0, ".flac"), (b"OggS", 0, ".ogg"), (b"ID3", 0, ".mp3"), (b"\xff\xfb", 0, ".mp3"),
    (b"\xff\xf3", 0, ".mp3"), (b"\xff\xf2", 0, ".mp3"), (b"\x1a\x45\xdf\xa3", 0, ".webm"), (b"AVI ", 8, ".avi"),
]


@dataclass
class Inputs:
    """A request as the agent takes it: the text, the earlier turns and the attached files (store paths)."""

    request: str
    history: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Every body and the web UI enter here: a lone surrogate ("\ud800" is valid JSON) becomes U+FFFD, as
        # the agent does it, before anything is stored, shown or sent on.
        self.request, self.history = clean_text(self.request), clean_turns(self.history)


class InputGate:
    """Turns bodies into ``Inputs``; stores uploads; refuses anything that is not an upload."""

    def __init__(self, store: ArtifactStore, db: ServerDB, view: PublicView, *, max_upload_mb: float,
                 allow_urls: bool, max_history_turns: int = 200, max_history_chars: int = 200_000) -> None:
        self.store, self.db, self.view = store, db, view
        self.max_bytes = int(max_upload_mb * 1024 * 1024)
        self.allow_urls = allow_urls
        self.max_history_turns, self.max_history_chars = max_history_turns, max_history_chars
        self.tmp = store.root.parent / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    # ----- uploads ----------------------------------------------------------------------------------------------
    def upload_bytes(self, data: bytes, filename: str | None = None) -> tuple[Artifact, str]:
        """Store an uploaded file after checking its size and content; returns the artifact and its media."""
        if len(data) > self.max_bytes:
            raise _too_large(len(data), self.max_bytes)
        with tempfile.NamedTemporaryFile(dir=self.tmp, suffix=".upload", delete=False) as f:
            f.write(data)
            tmp = Path(f.name)
        try:
            media = sniff_media(tmp)
            if media is None:
                raise APIError(415, "unsupported_media", f"{filename or 'The upload'!r} is not an image, audio or "
                               "video file this server can read.", "Upload PNG/JPEG/GIF/BMP/WEBP/TIFF images, "
                               "WAV/MP3/FLAC/OGG audio or MP4/WEBM/AVI video.")
            if media == "image":  # a decompression bomb is refused from its header (MediaTooLarge: 413)
                check_image_pixels(data, name=filename or "The upload")
            ext = next((e for magic, off, e in _MAGIC_EXT if data[off:off + len(magic)] == magic), None)
            ext = ext or (".m4a" if media == "audio" else ".mp4")  # ISO media (ftyp)
            named = tmp.with_suffix(ext)
            tmp.replace(named)
            tmp = named
            art = self.store.put_file(tmp, artifact_kind(media), source=f"upload:{filename or ''}")
        finally:
            tmp.unlink(missing_ok=True)
        self.db.add_upload(art.sha256, filename, media, art.mime, art.size)
        return art, media

    def upload_path(self, path: Path, filename: str | None = None) -> tuple[Artifact, str]:
        """Store a file the web UI received (already on disk in Gradio's upload cache)."""
        size = Path(path).stat().st_size
        if size > self.max_bytes:
            raise _too_large(size, self.max_bytes)
        return self.upload_bytes(Path(path).read_bytes(), filename or Path(path).name)

    def attachment(self, ref: str) -> Path:
        """The store path of an upload named by ``<sha256>[.ext]`` or its ``/v1/artifacts/`` URL.

        Anything else (a server path, ``../`` tricks) is refused: bodies only reach files uploaded to this server.
        """
        raw = ref.strip()
        name = raw.split(ARTIFACT_PREFIX, 1)[1] if ARTIFACT_PREFIX in raw else raw
        if not _NAME.match(name):
            raise APIError(403, "resource_error", f"{ref!r} is not allowed as an input: only uploaded files can be "
                           "attached.", "Upload the file with POST /v1/files and pass the returned name.")
        art = self.store.get(name.split(".", 1)[0], with_text=False)
        if art is None or art.kind not in ("image", "audio", "video"):
            raise APIError(404, "not_found", f"No uploaded file {name!r}.", "Upload it with POST /v1/files first.")
        return art.path

    # ----- bodies -----------------------------------------------------------------------------------------------
    def from_messages(self, messages: list[ChatMessage], files: Sequence[str] = ()) -> Inputs:
        """The last user message with a text is the request; the user/assistant turns before it are the history.
        Messages after it (an assistant's, a system's, a user's with files only) add only their files.

        The history's size is checked first (``RequestTooLarge``, 413, naming the limit), before any inline file is
        decoded or anything is stored. CPU-bound on big bodies: call it from a worker thread.
        """
        last = next((i for i in range(len(messages) - 1, -1, -1)
                     if messages[i].role == "user" and _text_of(messages[i]).strip()), None)
        if last is None:
            raise APIError(400, "bad_request", "No user message has a text: there is no request.",
                           "Send messages with {'role': 'user', 'content': '...'}; the last such one is the request.")
        attachments = len(files) + sum(len(m.files) + sum(p.type != "text" for p in _parts(m)) for m in messages)
        if attachments > MAX_ATTACHMENTS:  # each is looked up in the store: bounded work per request
            raise RequestTooLarge(f"The request attaches {attachments} files; the limit is {MAX_ATTACHMENTS}.",
                                  hint="Send fewer files at once, or over several turns.")
        earlier = [m for m in messages[:last] if m.role in ("user", "assistant")]
        check_history([{"content": _text_of(m), "files": m.files} for m in earlier],
                      max_turns=self.max_history_turns, max_chars=self.max_history_chars)
        history: list[dict[str, Any]] = []
        for msg in earlier:
            text, attached = self._content(msg)
            turn: dict[str, Any] = {"role": msg.role, "content": self.view.to_paths(text),
                                    "files": [str(p) for p in attached]}
            if msg.role == "assistant" and msg.run_id:  # the run that answered: memory reads its stored outputs
                turn["run_id"] = msg.run_id
            history.append(turn)
        text, attached = self._content(messages[last])
        for later in messages[last + 1:]:
            if later.role == "user":
                attached += self._content(later)[1]
        attached += [self.attachment(f) for f in files]
        return Inputs(request=self.view.to_names(text).strip(), history=history, files=_unique(attached))

    def from_request(self, request: str, files: Sequence[str], history: list[dict[str, Any]]) -> Inputs:
        """A request continuing a stored conversation: its most recent turns within the history limits."""
        return Inputs(request=self.view.to_names(request).strip(),
                      history=recent_history(history, max_turns=self.max_history_turns,
                                             max_chars=self.max_history_chars),
                      files=_unique([self.attachment(f) for f in files]))

    def _content(self, msg: ChatMessage) -> tuple[str, list[Path]]:
        attached = [self.attachment(f) for f in msg.files]
        if msg.content is None or isinstance(msg.content, str):
            return msg.content or "", attached
        texts: list[str] = []
        for part in msg.content:
            if part.type == "text":
                texts.append(part.text or "")
            elif part.type == "image_url" and part.image_url is not None:
                url = part.image_url.url.strip()
                if url.startswith("data:"):
                    attached.append(self.upload_bytes(_decode_data_url(url))[0].path)
                elif is_url(url) and ARTIFACT_PREFIX not in url:
                    if not self.allow_urls:
                        raise APIError(403, "resource_error", f"URL inputs are disabled: {url!r}.",
                                       "Upload the file (POST /v1/files or a data: URL), or set allow_urls: true.")
                    texts.append(url)
                else:
                    attached.append(self.attachment(url))
            elif part.type == "input_audio" and part.input_audio is not None:
                attached.append(self.upload_bytes(_b64(part.input_audio.data))[0].path)
            elif part.type == "file" and part.file:
                attached.append(self.attachment(str(part.file.get("file_id") or part.file.get("filename") or "")))
        return "\n".join(t for t in texts if t), attached


def _parts(msg: ChatMessage) -> list[ContentPart]:
    return [] if msg.content is None or isinstance(msg.content, str) else msg.content


def _text_of(msg: ChatMessage) -> str:
    """The text of a message (string content or its text parts), for the history size check."""
    if msg.content is None or isinstance(msg.content, str):
        return msg.content or ""
    return "\n".join(p.text or "" for p in msg.content if p.type == "text")


def _decode_data_url(url: str) -> bytes:
    m = _DATA_URL.match(url)
    if not m:
        raise APIError(400, "bad_request", "Only base64 data: URLs are accepted.",
                       "Use data:image/png;base64,<data>.")
    return _b64(m.group(2))


def _b64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise APIError(400, "bad_request", "The inline file is not valid base64.", "Check the encoding.") from exc


def _unique(paths: list[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))


def _too_large(size: int, limit: int) -> APIError:
    return APIError(413, "payload_too_large", f"The upload is {size / 1048576:.1f} MB; the limit is "
                    f"{limit / 1048576:.1f} MB.", "Send a smaller file or raise server.max_upload_mb.")
