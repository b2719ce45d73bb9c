"""Text-to-speech chunking: split text to speak into short chunks so that synthesis memory does not grow with the
length of the text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Neural TTS (Piper's VITS) synthesizes one utterance per inference, and its memory grows with the utterance: about
# 1 MB per phoneme on CPU. espeak-ng ends a "sentence" only at ., ! or ?, so text without them (a list, a table of
# numbers) became one utterance of thousands of phonemes, and digits are the worst case: espeak reads "1234567" as
# "one million two hundred thirty-four thousand ..." (76 phonemes for 7 characters). espeak-ng also silently drops
# words from clauses longer than its internal buffer. Speaking text in short chunks bounds both.

MAX_CHUNK_COST = 240
"""Largest chunk handed to a synthesizer, in estimated phonemes (see ``speech_cost``)."""
MAX_DIGIT_RUN = 15
"""Longer digit runs are no number anyone reads as a cardinal ("twelve quintillion ..."): they are read in groups."""
DIGIT_GROUP = 3

_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’)\]»]*(?=\s|$)")
_CLAUSE_END = re.compile(r"[,;:—–]+[\"'”’)\]»]*(?=\s)")
_LONG_DIGITS = re.compile(rf"\d{{{MAX_DIGIT_RUN + 1},}}")
_QUIET = frozenset(" \t.,;:!?'\"()[]-‐–—…“”‘’«»")


def _char_cost(ch: str) -> int:
    """Estimated phonemes spoken for one character (measured with espeak-ng en-us; errs on the high side)."""
    if ch.isascii():
        if ch.isalpha() or ch in _QUIET:
            return 1
        if ch.isdigit():
            return 11  # "1234567": 76 phonemes
        return 10  # symbols are read by name: "*" is "asterisk", "=" is "equals"
    if ch.isdigit():
        return 11
    if ch.isalpha() and ord(ch) < 0x2E80:
        return 2  # accented Latin, Greek, Cyrillic...: letters spoken in words
    return 15 if ch not in _QUIET else 1  # CJK, emoji, other symbols: read one by one by name ("chinese letter ...")


def speech_cost(text: str) -> int:
    """Estimated number of phonemes ``text`` turns into: the unit chunk limits are expressed in."""
    return sum(_char_cost(ch) for ch in text)


def _group_digits(match: re.Match[str]) -> str:
    run = match.group(0)
    return " ".join(run[i: i + DIGIT_GROUP] for i in range(0, len(run), DIGIT_GROUP))


def _pieces(text: str, boundary: re.Pattern[str]) -> list[str]:
    """Split after every match of ``boundary`` (the punctuation stays with the text before it)."""
    out, start = [], 0
    for m in boundary.finditer(text):
        out.append(text[start: m.end()])
        start = m.end()
    out.append(text[start:])
    return [p.strip() for p in out if p.strip()]


def _pack(parts: list[str], max_cost: int) -> list[str]:
    """Join consecutive parts with spaces while the joined cost stays within ``max_cost``."""
    out: list[str] = []
    cur, cur_cost = "", 0
    for part in parts:
        cost = speech_cost(part)
        if cur and cur_cost + 1 + cost <= max_cost:
            cur, cur_cost = f"{cur} {part}", cur_cost + 1 + cost
        else:
            if cur:
                out.append(cur)
            cur, cur_cost = part, cost
    if cur:
        out.append(cur)
    return out


def _hard_split(word: str, max_cost: int) -> list[str]:
    """Cut one over-long word into pieces of at most ``max_cost``: the last resort (a URL, a hash, glued symbols)."""
    out: list[str] = []
    cur: list[str] = []
    cost = 0
    for ch in word:
        c = _char_cost(ch)
        if cur and cost + c > max_cost:
            out.append("".join(cur))
            cur, cost = [], 0
        cur.append(ch)
        cost += c
    if cur:
        out.append("".join(cur))
    return out


def _split_long(sentence: str, max_cost: int) -> list[str]:
    """A sentence over the limit: split at clause punctuation, then at spaces, then inside words."""
    out: list[str] = []
    for clause in _pack(_pieces(sentence, _CLAUSE_END), max_cost):
        if speech_cost(clause) <= max_cost:
            out.append(clause)
            continue
        words: list[str] = []
        for word in clause.split():
            words.extend([word] if speech_cost(word) <= max_cost else _hard_split(word, max_cost))
        out.extend(_pack(words, max_cost))
    return out


def speech_chunks(text: str, max_cost: int = MAX_CHUNK_COST) -> Iterator[str]:
    """Split ``text`` into chunks a synthesizer can speak one at a time with bounded memory.

    Line breaks always end a chunk. Within a line, sentences are packed together up to ``max_cost`` estimated
    phonemes (``speech_cost``); a sentence over the limit is split at commas/semicolons/colons/dashes, then at spaces,
    and a single over-long word is cut. Digit runs longer than ``MAX_DIGIT_RUN`` are spoken in groups of
    ``DIGIT_GROUP``. Whitespace inside a chunk is collapsed; no chunk is empty. Linear in the length of ``text``.
    """
    if max_cost < 20:
        raise ValueError("max_cost must be at least 20 estimated phonemes")
    text = _LONG_DIGITS.sub(_group_digits, unicodedata.normalize("NFC", text))
    for line in text.splitlines():
        parts: list[str] = []
        for sentence in _pieces(" ".join(line.split()), _SENTENCE_END):
            parts.extend([sentence] if speech_cost(sentence) <= max_cost else _split_long(sentence, max_cost))
        yield from _pack(parts, max_cost)
