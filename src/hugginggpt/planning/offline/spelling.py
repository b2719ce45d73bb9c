"""Misspelt task words, mended before parsing: "plese discribe the foto" reads "please describe the photo".

A word is mended only when all of these hold:
- the English dictionary of ``pyspellchecker`` does not know it (so real words, plurals and tenses stay as typed);
- it is outside quotes, a text after a colon, pasted prose and file names, as the request parser finds them (a text
  to read aloud is the user's, typos included);
- it is not one of the lexicon's ``spelling.keep`` words ("intro", "selfie": real, though not in the dictionary),
  nor a British spelling of a word the dictionary knows ("colours", "summarise": ``spelling.british``);
- a letter dropped to reach the planner's word is no better guess than one the dictionary would add ("countr" is
  "count" less a letter and "counter" plus one: left as typed);
- it is one edit (two for words of seven letters or more) from exactly one of the planner's own words: the
  lexicon's media nouns, action verbs, generation nouns, trigger words and ``spelling.words``; or it is one of
  the lexicon's ``spelling.variants`` as typed, in lower case ("foto", "pls", "u"; a one-letter one such as "n"
  only between two words); or it ends in "in" where the dictionary knows it with a "g" ("flyin" -> "flying").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .lexicon import Lexicon, default_lexicon
from .text import literal_spans

if TYPE_CHECKING:
    from spellchecker import SpellChecker

# (a word may end in a 2 or 4 that stands for a word of its own, as texted: "in2", "4get"; only a listed variant)
_WORD = re.compile(r"(?<![\w./\\'=-])[A-Za-z]+[24]?(?![\w./\\'=-])")
_LETTERS = re.compile(r"[a-z]{4,}")


@lru_cache(maxsize=1)
def _dictionary() -> SpellChecker:
    from spellchecker import SpellChecker  # loads a 0.6 MB word-frequency list: once, on first use

    return SpellChecker(distance=1)


@dataclass(frozen=True)
class _Words:
    """What a lexicon gives the speller: the planner's own words, the spelling variants, and the British endings
    with their American ones."""

    vocabulary: frozenset[str]
    variants: dict[str, str]
    british: tuple[tuple[str, str], ...]


_VOCABULARIES: dict[int, tuple[Lexicon, _Words]] = {}


def english_words(words: list[str]) -> set[str]:
    """Those of ``words`` (lower case) that the English dictionary knows."""
    return set(_dictionary().known(words)) if words else set()


def _vocabulary(lexicon: Lexicon) -> _Words:
    """The planner's own words (each one the dictionary knows, or one the lexicon lists), spelling variants and
    British endings, read once per lexicon."""
    got = _VOCABULARIES.get(id(lexicon))
    if got is None or got[0] is not lexicon:
        got = _VOCABULARIES[id(lexicon)] = (lexicon, _words_of(lexicon))
    return got[1]


def _words_of(lexicon: Lexicon) -> _Words:
    raw = lexicon.raw
    listed: set[str] = set(lexicon.verbs) | {str(w) for w in raw.get("document_nouns", [])}
    for words in lexicon.media_nouns().values():
        listed |= set(words)
    for words in raw.get("generation", {}).get("nouns", {}).values():
        listed |= set(words)
    spelling = raw.get("spelling", {})
    listed |= {str(w) for w in spelling.get("words", [])}
    listed = {w.lower() for w in listed if " " not in w}
    # Whole words of the task triggers' patterns ("describe", "transcribe", "depth"), real English words only.
    found: set[str] = set()
    for task in raw.get("tasks", {}).values():
        for t in task.get("triggers") or []:
            found |= set(_LETTERS.findall(str(t["re"] if isinstance(t, dict) else t).lower()))
    known = _dictionary().known(found)
    keep = {str(w).lower() for w in spelling.get("keep", [])}  # words as typed that the dictionary lacks
    variants = {str(k).lower(): str(v) for k, v in spelling.get("variants", {}).items()}
    british = tuple((str(k), str(v)) for k, v in spelling.get("british", {}).items())
    return _Words(frozenset(listed | set(known) | keep), variants, british)


def _mend(word: str, words: _Words) -> str | None:
    low = word.lower()
    vocabulary, variants = words.vocabulary, words.variants
    if low in vocabulary:
        return None
    if word in variants:  # shorthands as typed, in lower case ("u", "pls"; "U" or "PLS" are left alone)
        return variants[word]
    if len(word) > 2 and word[0].isupper() and word[1:].islower() and low in variants:
        return variants[low]  # "Whit kind o bird": capitalised to start a sentence (the caller keeps the capital)
    if len(low) < 4 or _dictionary().known([low]) or _british(low, words.british):
        return None
    if low.endswith("in") and _dictionary().known([low + "g"]):
        return word + "g"  # a dropped g, as typed in chat: "flyin", "doin", "makin"
    limit = 2 if len(low) >= 7 else 1
    # The two nearest within the limit (rapidfuzz sorts distances ascending): a tie for the nearest is no guess.
    near = process.extract(low, vocabulary, scorer=OSA.distance, score_cutoff=limit, limit=2)
    if not near or (len(near) == 2 and near[1][1] == near[0][1]):
        return None
    target = str(near[0][0])
    if len(target) < len(low) and any(len(c) > len(low) for c in _dictionary().candidates(low) or ()):
        return None  # "countr": dropping the "r" gives "count", adding an "e" gives "counter" - no guess
    return target


def _british(low: str, pairs: tuple[tuple[str, str], ...]) -> bool:
    """Whether ``low`` is a British spelling of a word the (American) dictionary knows: "colours", "summarise",
    "centre" (``pairs``: the lexicon's ``spelling.british`` endings, each with its American one)."""
    for british, american in pairs:
        for inner in (f"{british}s", f"{british}ed", f"{british}ing", f"{british}ful", british):
            if inner in low:
                candidate = low.replace(inner, inner.replace(british, american, 1), 1)
                if candidate != low and _dictionary().known([candidate]):
                    return True
    return False


def _between_words(text: str, m: re.Match[str]) -> bool:
    """A one-letter shorthand ("cat n dog") counts only as a word between words: not in "n = 5" or "plan B"."""
    return bool(re.search(r"[A-Za-z] $", text[: m.start()]) and re.match(r" [A-Za-z]", text[m.end() :]))


def mend_spelling(text: str, lexicon: Lexicon | None = None) -> str:
    """``text`` with misspelt task words mended (see the module's rules); quotes and file names are kept."""
    words = _vocabulary(lexicon or default_lexicon())
    quoted = literal_spans(text)  # quotes, text after a colon and file names, as the request parser reads them
    phrases = {k: v for k, v in words.variants.items() if " " in k}  # shorthands of several words ("hw many")
    out: list[str] = []
    last = 0
    for m in _WORD.finditer(text):
        if m.start() < last or any(a <= m.start() < b for a, b in quoted) or (
                len(m.group(0)) == 1 and not _between_words(text, m)):
            continue
        end, fixed = _phrase_variant(text, m.start(), phrases)
        if fixed is None and m.group(0)[-1].isdigit():
            fixed = words.variants.get(m.group(0).lower())  # "in2": a texted word, only as the lexicon lists it
            end = m.end()
        elif fixed is None:
            end, fixed = m.end(), _mend(m.group(0), words)
        if fixed is None:
            continue
        if m.group(0)[0].isupper():
            fixed = fixed[0].upper() + fixed[1:]
        out.append(text[last : m.start()] + fixed)
        last = end
    return "".join(out) + text[last:] if out else text


def _phrase_variant(text: str, start: int, phrases: dict[str, str]) -> tuple[int, str | None]:
    """A shorthand of several words at ``start`` ("hw many" -> "how many"), as typed in lower case, or with its first
    letter capitalised to start a sentence ("Can ya find ...")."""
    for key, value in phrases.items():
        typed = text[start : start + len(key)]
        after = text[start + len(key) : start + len(key) + 1]
        if (typed == key or typed == key[0].upper() + key[1:]) and not after.isalnum():
            return start + len(key), value
    return start, None
