"""Attributes of the task and expert spans, built only when the span records (``span.is_recording()``).

Inputs and outputs are described by content hash, kind and size, never by content: a trace shows which bytes went
in and came out (the artifact store names files by the same SHA-256) without holding user data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode


def input_attributes(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``hugginggpt.input.slots`` / ``.kinds`` / ``.sha256`` / ``.sizes`` (aligned lists) of an expert call's inputs:
    text as its UTF-8 bytes, media (objects with ``kind``, ``path``, ``sha256``) as the file."""
    slots, kinds, hashes, sizes = [], [], [], []
    for slot, value in inputs.items():
        if isinstance(value, str):
            data = value.encode("utf-8")
            kind, digest, size = "text", hashlib.sha256(data).hexdigest(), len(data)
        else:
            kind = str(getattr(value, "kind", "media"))
            digest = str(getattr(value, "sha256", None) or "")
            size = _size(value)
        slots.append(str(slot))
        kinds.append(kind)
        hashes.append(digest)
        sizes.append(size)
    return {"hugginggpt.input.slots": slots, "hugginggpt.input.kinds": kinds, "hugginggpt.input.sha256": hashes,
            "hugginggpt.input.sizes": sizes}


def output_attributes(artifacts: Iterable[Any]) -> dict[str, Any]:
    """``hugginggpt.output.kinds`` / ``.sha256`` / ``.sizes`` (aligned lists) of stored artifacts."""
    arts = list(artifacts)
    return {"hugginggpt.output.kinds": [str(a.kind) for a in arts],
            "hugginggpt.output.sha256": [str(a.sha256) for a in arts],
            "hugginggpt.output.sizes": [int(a.size) for a in arts]}


def record_task(span: Span, result: Any) -> None:
    """Put a ``TaskResult``'s outcome on its task span: status, model, error code (status ERROR when it failed),
    its outputs. (Whether the result cache answered is ``cache.hit`` on the expert span.)"""
    if not span.is_recording():
        return
    attrs: dict[str, Any] = {"hugginggpt.task.status": str(result.status)}
    if result.choice is not None:
        attrs["hugginggpt.model_id"] = result.choice.model_id
        attrs["hugginggpt.backend"] = result.choice.backend
    if result.outputs:
        attrs.update(output_attributes(result.outputs))
    if result.error is not None:
        attrs["hugginggpt.error.code"] = result.error.code
        attrs["error.type"] = result.error.type
        span.set_status(Status(StatusCode.ERROR, result.error.message[:300]))
    span.set_attributes(attrs)


def _size(media: Any) -> int:
    data = getattr(media, "data", None)
    if data is not None:
        return len(data)
    try:
        return int(media.path.stat().st_size)
    except (AttributeError, OSError):
        return -1
