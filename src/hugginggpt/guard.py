"""The answer guard: what an LLM wrote is checked before anyone sees it.

A small model (the embedded 135M SmolLM2) loops ("A cat is a cat. A cat is a cat."), runs into its token limit
mid-sentence, or says "Here's a video of a boy running" when no video exists. ``guard_text`` finds each of these:
it stops the text where it starts repeating itself, cuts an answer stopped at the length limit back to its last
full sentence, and removes sentences that claim a medium or file of a kind the run did not produce. The caller
decides what to do when the guard trips (the chit-chat answer falls back to a plain answer, the LLM responder to
the deterministic answer, an LLM text expert keeps the cleaned text or fails).

The wording (media nouns, claim phrases) is data: ``guard.yaml``. Every pattern here runs on model output, so each
is linear (no nested repeats).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

# A sentence: a run up to and including its end punctuation (or the end of a line). A dot inside a word is not an
# end ("/tmp/x.png", "3.5"), so a claim that names its file by path stays one sentence.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))+(?:[.!?]+|$)", re.M)
_WORD = re.compile(r"[\w']+")
# A repeated sentence must hold this many characters (after normalising) to count: "Yes. Yes." is not a loop worth
# cutting, "A cat is a cat. A cat is a cat." is.
_MIN_SENTENCE = 8
# A loop without punctuation: the same N words three times ("the cat and the dog and the cat and the dog ...").
_NGRAM = 5
_NGRAM_TIMES = 3
# The same word this many times in a row ("ha ha ha ha ha ha").
_SAME_WORD_RUN = 5

# How far after "here is" / "I have generated" the claimed thing is looked for, and the words that end it.
_CLAIM_WINDOW = 6
_PREPOSITIONS = frozenset({"of", "about", "from", "in", "for", "on", "with", "that", "which", "to"})

REPEATED = "repeated itself"
CUT_AT_LIMIT = "stopped at its length limit"


@lru_cache(maxsize=1)
def wording() -> dict[str, Any]:
    """The guard's wording (``guard.yaml``), loaded once."""
    text = resources.files("hugginggpt").joinpath("guard.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, re.Pattern[str]]]:
    data = wording()
    claim = re.compile("|".join(f"(?:{p})" for p in data["claims"]), re.I)
    fake = re.compile("|".join(f"(?:{p})" for p in data["fake_reports"]), re.I | re.M)
    nouns = {kind: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.I)
             for kind, words in data["media_nouns"].items()}
    return claim, fake, nouns


@dataclass
class GuardReport:
    """What the guard kept of a text and why it cut or removed anything (``problems``, empty when clean)."""

    text: str
    problems: list[str] = field(default_factory=list)

    @property
    def tripped(self) -> bool:
        return bool(self.problems)

    def words(self) -> int:
        return len(_WORD.findall(self.text))


def _norm(sentence: str) -> str:
    return " ".join(_WORD.findall(sentence.lower()))


def repetition_start(text: str) -> int | None:
    """Where ``text`` starts repeating itself (the offset of the earliest repeat), or None.

    A repeat is a sentence said a second time, the same few words three times over, or one word five times in a
    row; the text before the offset is kept, so the first saying stays.
    """
    found = [at for at in (_repeated_sentence(text), _repeated_words(text)) if at is not None]
    return min(found) if found else None


def _repeated_sentence(text: str) -> int | None:
    seen: set[str] = set()
    for m in _SENTENCE.finditer(text):
        key = _norm(m.group())
        if len(key) >= _MIN_SENTENCE:
            if key in seen:
                return m.start()
            seen.add(key)
    return None


def _repeated_words(text: str) -> int | None:
    words = [(w.group().lower(), w.start()) for w in _WORD.finditer(text)]
    found: list[int] = []
    run = 1
    for i in range(1, len(words)):
        run = run + 1 if words[i][0] == words[i - 1][0] else 1
        if run == _SAME_WORD_RUN:
            found.append(words[i - _SAME_WORD_RUN + 2][1])  # keep the first saying
            break
    counts: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(words) - _NGRAM + 1):
        gram = tuple(w for w, _ in words[i:i + _NGRAM])
        starts = counts.setdefault(gram, [])
        # occurrences that overlap the previous one are the same saying ("a a a a a a" is caught above)
        if not starts or i >= starts[-1] + _NGRAM:
            starts.append(i)
        if len(starts) == _NGRAM_TIMES:
            found.append(words[starts[1]][1])
            break
    return min(found) if found else None


def _last_full_sentence_end(text: str) -> int:
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    return ends[-1] if ends else len(text)


def claimed_media(sentence: str) -> set[str]:
    """The kinds of media (image, video, audio, file) a sentence says were made, shown or attached."""
    claim, _, nouns = _patterns()
    found: set[str] = set()
    for m in claim.finditer(sentence):
        # The thing claimed follows the claim within a few words, before any preposition: "here's a video and an
        # image of a boy" claims a video and an image; "here is a summary of the audio" claims a summary.
        words = _WORD.findall(sentence[m.end():])[:_CLAIM_WINDOW]
        stop = next((i for i, w in enumerate(words) if w.lower() in _PREPOSITIONS), len(words))
        head = " ".join(words[:stop])
        found |= {kind for kind, pattern in nouns.items() if pattern.search(head)}
    return found


def _drop_fake_reports(text: str) -> tuple[str, bool]:
    """``text`` without the lines that imitate a report of tasks run (the deterministic answer's shape)."""
    fake = _patterns()[1]
    lines = text.splitlines()
    kept = [line for line in lines if not fake.search(line)]
    return "\n".join(kept).strip(), len(kept) < len(lines)


def guard_text(text: str, *, finish_reason: str | None = None, media_made: set[str] | frozenset[str] = frozenset(),
               tasks_ran: bool = False) -> GuardReport:
    """Check an LLM's ``text``: stop it where it repeats itself, cut it back to its last full sentence when it hit
    the token limit (``finish_reason == "length"``), and remove each sentence that claims a medium of a kind not in
    ``media_made`` (artifact kinds of the run: image, audio, video; any of them counts as a "file"). Unless
    ``tasks_ran``, lines imitating a report of tasks run ("0. image-to-text with ...: ...") are removed too."""
    problems: list[str] = []
    kept = text.strip()
    if not tasks_ran:
        kept, faked = _drop_fake_reports(kept)
        if faked:
            problems.append("reported tasks that did not run")
    start = repetition_start(kept)
    if start is not None:
        kept = kept[:start].rstrip()
        problems.append(REPEATED)
    if finish_reason == "length":
        problems.append(CUT_AT_LIMIT)
    if start is not None or finish_reason == "length":  # end at the last full sentence, when there is one
        kept = kept[:_last_full_sentence_end(kept)].rstrip()
    made = set(media_made) | ({"file"} if set(media_made) & {"image", "audio", "video"} else set())
    out: list[str] = []
    false_claims: list[str] = []
    for m in _SENTENCE.finditer(kept):
        sentence = m.group()
        missing = sorted(claimed_media(sentence) - made)
        if missing:
            false_claims += [k for k in missing if k not in false_claims]
            continue
        out.append(sentence)
    if false_claims:
        problems.append("claimed " + " and ".join(f"a{'n' if k[0] in 'aeiou' else ''} {k}" for k in false_claims)
                        + (" that were not made" if len(false_claims) > 1 else " that was not made"))
        kept = " ".join(s.strip() for s in out).strip()
    return GuardReport(text=kept, problems=problems)
