"""The model-server wire format: JARVIS's request/response shapes, plus a lossless form our own client asks for.

Requests (JARVIS ``models_server.py``): ``POST /models/<id>`` with JSON; text slots by name (``text``, ``context``,
``text2``, ``labels``), media as ``img_url`` / ``audio_url`` / ``video_url``. JARVIS servers read those as URLs or
paths on their own disk; ours also take ``data:`` URIs, so no shared filesystem is needed.

Responses: JARVIS's per-task shapes (``{"path": "/images/x.png"}``, ``{"text": ...}``, ``{"generated text": ...}``,
pipeline lists for detection/classification). When the request carries the header ``X-HuggingGPT: 1`` our server
answers ``{"outputs": [{"kind", "text" | "b64"+"ext"}], "data": {...}}`` instead, which round-trips an
``ExpertResult`` exactly. Errors: ``{"error": {"type", "code", "message", "hint"}}`` with a 4xx/5xx status.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...payloads import Answer, Answers, Boxes, Entities, Labels, Payload
from ...tasks import default_registry
from ..base import ExpertOutput, ExpertResult

MEDIA_KEYS = {"image": "img_url", "audio": "audio_url", "video": "video_url"}
SLOT_OF_KEY = {v: k for k, v in MEDIA_KEYS.items()}
LOSSLESS_HEADER = "X-HuggingGPT"
MEDIA_DIRS = {"image": "images", "audio": "audios", "video": "videos"}


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def encode_result(result: ExpertResult) -> dict[str, Any]:
    outs: list[dict[str, Any]] = []
    for o in result.outputs:
        if o.kind == "text":
            outs.append({"kind": "text", "text": o.text or ""})
        else:
            outs.append({"kind": o.kind, "ext": o.ext, "b64": base64.b64encode(o.data or b"").decode("ascii")})
    return {"outputs": outs, "data": result.data}


def decode_result(body: dict[str, Any]) -> ExpertResult:
    outs = []
    for o in body.get("outputs", []):
        if o.get("kind") == "text":
            outs.append(ExpertOutput("text", text=str(o.get("text", ""))))
        else:
            outs.append(ExpertOutput(o["kind"], data=base64.b64decode(o.get("b64", "")), ext=o.get("ext")))
    return ExpertResult(outs, dict(body.get("data") or {}))


def jarvis_shape(task: str, result: ExpertResult, paths: dict[str, str]) -> Any:
    """The response JARVIS's ``awesome_chat.py`` expects for ``task`` (``paths``: media kind → served path), in the
    shape ``tasks.yaml`` gives the task (``jarvis:``). A structured shape whose facts the result lacks, and a task
    outside tasks.yaml (a user catalog entry), answer in the generic form."""
    data, text = result.data, next((o.text for o in result.outputs if o.kind == "text"), None)
    registry = default_registry()
    shape = registry.get(task).jarvis if task in registry else "generated_text"
    read = _STRUCTURED.get(shape)
    payload = read(data, text) if read else None
    if payload is not None:
        return payload.jarvis()
    if paths:
        return {"path": next(iter(paths.values())), **({"generated text": text} if text else {})}
    if shape == "text":
        return {"text": text}
    return {"generated text": text}


# The shapes that come before the generic media/text form ("text", "media" and "generated_text" are that form): the
# result's facts read back as the payload whose ``jarvis()`` is that shape, or None when the result lacks them.
_STRUCTURED: dict[str, Callable[[dict[str, Any], str | None], Payload | None]] = {
    "boxes": lambda data, _: Boxes.from_facts(data),
    "labels": lambda data, _: Labels.from_facts(data),  # embedded experts name the ranking "scores" or "labels"
    "entities": lambda data, _: Entities.from_facts(data),
    "answers": Answers.from_facts,
    "answer": Answer.from_facts,
}
