"""Literal arguments written in the request: the text after "draw a picture of", candidate labels, prompts."""

from __future__ import annotations

import re

from .text import ParsedRequest

_LEAD = re.compile(
    r"^(?:[:,\-]\s*|(?:of|about|showing|depicting|with|saying|that says|the words?|the text|"
    r"the sentence|the phrase|me|for me|please|this|following|from|based on|out of|on)\b\s*)+",
    re.I,
)
_TRAIL = re.compile(
    r"\s*(?:,|\bplease\b|\bfor me\b|\bthanks?\b|\bthank you\b|\bat the end\b|\band\b|\bthen\b|\balso\b)+\s*$", re.I
)
# "a cabin interior with the same depth": the condition is not part of the prompt.
_CONDITION = re.compile(
    r"(?:^|\s+)(?:(?:in|with|using|following|matching|keeping|based on)\s+)?(?:the\s+)?(?:same|similar|matching)\s+"
    r"(?:pose|posture|depth|edges|outlines?|layout|lines|normals|segmentation|composition|structure|shape)"
    r"(?:\s+(?:as|of)\s+\S+)?",
    re.I,
)


def _clean(text: str) -> str:
    text = text.strip().strip(" .!?;,\"'")
    prev = None
    while prev != text:
        prev = text
        text = _LEAD.sub("", text).strip()
        text = _TRAIL.sub("", text).strip().strip(" .!?;,\"'")
    return text


def captured_text(req: ParsedRequest, start: int, end: int) -> str | None:
    """The literal text after a capturing trigger, up to the clause end (quotes and files excluded)."""
    if req.quotes_in(start, end) or req.resources_in(start, end):
        return None  # the literal is a quote or a file: the argument filler takes it from there
    text = _clean(_CONDITION.sub("", req.text[start:end]))
    text = re.sub(
        r"(?:^|\s+)(?:in|into|to)\s+(?:english|french|german|spanish|italian|portuguese|dutch|chinese|japanese|"
        r"korean|russian|arabic|hindi|turkish|polish|swedish|greek)$",
        "",
        text,
        flags=re.I,
    )
    return text or None


def listed_labels(req: ParsedRequest, start: int, end: int) -> str | None:
    """Candidate labels listed after "classify ... as/into": "sports, politics or tech" -> "sports, politics, tech"."""
    quoted = [q.text for q in req.quotes_in(start, end)]
    if len(quoted) >= 2:
        raw = ", ".join(quoted)
    else:  # the list ends where the text to classify begins ("... or negative: 'It works'")
        stop = re.search(r"[:?]|['\"]?0", req.masked[start:end])
        raw = req.text[start : start + stop.start()] if stop else req.text[start:end]
    parts = [p.strip(" .?!:;'\"") for p in re.split(r",|\bor\b|\band\b|/", raw)]
    parts = [re.sub(r"^(?:either|an?|the)\s+", "", p, flags=re.I) for p in parts]
    labels = [p for p in parts if p and len(p.split()) <= 3]
    return ", ".join(labels) if len(labels) >= 2 else None


def guided_prompt(text: str) -> str:
    """The prompt of guided generation, without the condition ("an astronaut in the same" -> "an astronaut")."""
    text = re.sub(
        r"\s+(?:in|with|using|following|matching|keeping|that has|based on|from|and|"
        r"(?:that|which) (?:follows|matches|uses|has))"
        r"(?:\s+(?:the|a|an|its))?(?:\s+(?:same|similar))?\s*$",
        "",
        text.strip(),
        flags=re.I,
    )
    return _clean(text)
