"""Literal arguments written in the request: the text after "draw a picture of", candidate labels, prompts.

The words these functions strip ("of", "please", "in the same pose") are the lexicon's ``literals`` section.
"""

from __future__ import annotations

import re

from .lexicon import pattern
from .text import ParsedRequest


def _rx(key: str) -> re.Pattern[str]:
    return pattern("literals", key)


# How much of a text's end the trailing words are looked for in at a time (the loop below takes more if they go on):
# matching them against a whole 20,000-character capture, once per capture, made hostile requests slow.
_TAIL = 400


def _clean(text: str) -> str:
    text = _rx("aside").sub("", text)  # "a robot doing it lol the kids will love it" -> "a robot doing it"
    text = pattern("parsing", "bracketed").sub("", text)  # "... in every brushstroke! [Thunder rattles offstage]"
    text = text.strip().strip(" .!?;,\"'")
    lead, trail = _rx("lead"), _rx("trail")
    prev = None
    while prev != text:
        prev = text
        text = lead.sub("", text).strip()
        cut = max(0, len(text) - _TAIL)
        text = (text[:cut] + trail.sub("", text[cut:])).strip().strip(" .!?;,\"'")
    return text


def captured_text(req: ParsedRequest, start: int, end: int) -> str | None:
    """The literal text after a capturing trigger, up to the clause end (quotes and files excluded)."""
    if req.quotes_in(start, end) or req.resources_in(start, end):
        return None  # the literal is a quote or a file: the argument filler takes it from there
    text = _clean(_rx("condition").sub("", req.text[start:end]))
    target = _rx("language_prefix").match(text)
    if target:  # "translated to Spanish for our paper": the words name the target, not the text, unless a colon
        rest = text[target.end() :].lstrip()  # gives it after them ("translate into French: hello")
        text = _clean(rest[1:]) if rest.startswith(":") else ""
    text = _rx("language_suffix").sub("", text)
    return text or None


# Where a list of labels ends: a colon, a question mark, a sentence's end, or the masked text to classify.
_LIST_STOP = re.compile(r"[:?;]|\.(?=\s|$)|['\"]?0")
_LIST_END = re.compile(r"[;?]|\.(?=\s)")


def listed_labels(req: ParsedRequest, start: int, end: int) -> str | None:
    """Candidate labels listed after "classify ... as/into": "sports, politics or tech" -> "sports, politics, tech"."""
    # (a text after a colon is the text to classify, not a label: "as 'urgent' or 'not urgent': the server is down")
    quoted = [q.text for q in req.quotes_in(start, end)
              if not req.masked[start : q.start].rstrip(" '\"\u201c\u2018").endswith(":")]
    before = _LIST_STOP.search(req.masked[start:end])
    listed_before = before is not None and before.group() == ":" and labels_of(req.text[start : start + before.start()])
    if len(quoted) >= 2 and not listed_before:
        # quoted labels, unless a list before a colon names them ("as a or b: 'x' and 'y'"); a quote may hold a longer
        # label ("House of the Raven")
        return labels_of(", ".join(quoted), max_words=5)
    # the list ends where the text to classify begins ("... or negative: 'It works'")
    stop = _LIST_STOP.search(req.masked[start:end])
    colon_first = stop is not None and stop.group() == ":" and not req.text[start : start + stop.start()].strip()
    if colon_first or req.masked[:start].rstrip().endswith(":"):
        # "as one of: crash, graphics, audio." - the list follows the colon (masked as a text when it is one),
        # which the trigger's words may end with ("into one of:")
        at = start + stop.end() if colon_first and stop else start
        listed = next((q for q in req.quotes_in(start, end) if q.start <= at + 2), None)
        if listed is not None:
            return labels_of(listed.text)  # (up to its first stop: "praise, complaint, question; the team...")
        if colon_first and stop:
            start = at
            stop = _LIST_STOP.search(req.masked[start:end])
    return labels_of(req.text[start : start + stop.start()] if stop else req.text[start:end])


def label_form(text: str) -> str:
    """One label as a list gives it, without its article ("a scam" -> "scam")."""
    return _rx("label_article").sub("", text.strip(" .?!:;'\"")).strip()


def labels_of(raw: str, max_words: int = 3) -> str | None:
    """The labels a list names, up to its first stop ("sports, politics or tech; thanks" -> "sports, politics,
    tech"), or None for fewer than two."""
    raw = _LIST_END.split(raw, maxsplit=1)[0]
    parts = [p.strip(" .?!:;'\"{}[]") for p in _rx("label_split").split(_rx("label_tail").sub("", raw))]
    parts = [label_form(p) for p in parts]
    labels = [p for p in parts if p and len(p.split()) <= max_words]
    if len(labels) == 2 and _rx("label_negation").fullmatch(labels[1]):
        labels[1] = f"not {labels[0]}"  # "mean or nah" -> mean, not mean
    return ", ".join(labels) if len(labels) >= 2 else None


def guided_prompt(text: str) -> str:
    """The prompt of guided generation, without the condition ("an astronaut in the same" -> "an astronaut") and
    without the "it" that names the thing the map holds ("draw it painted red" -> "painted red")."""
    return _clean(_rx("guided_lead").sub("", _rx("guided_tail").sub("", text.strip())))
