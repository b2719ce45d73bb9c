"""What a count asks the object detector for: "how many zebras" -> zebra, "count the people" -> person.

The label is said in the detector's vocabulary, singular: the words of the lexicon's ``counting`` section map
plurals and other words to a label ("people", "kids" -> person), and an unlisted word is made singular by its
plural endings ("zebras" -> zebra). Counting things in general ("how many objects") names no label.
"""

from __future__ import annotations

from functools import lru_cache

from .lexicon import default_lexicon, pattern
from .spelling import english_words


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[dict[str, str], frozenset[str]]:
    section = default_lexicon().raw["counting"]
    words: dict[str, str] = {}
    for label, others in section["labels"].items():
        for word in [label, *(others or [])]:
            words[" ".join(str(word).lower().split())] = str(label)
    return words, frozenset(str(w).lower() for w in section["generic"])


@lru_cache(maxsize=4096)
def singular(word: str) -> str:
    """``word`` without its plural ending (the lexicon's ``counting.singular`` rules): the first form the English
    dictionary knows ("zombies" -> zombie, not "zomby"), else the first rule's."""
    section = default_lexicon().raw["counting"]
    if any(word.endswith(k) for k in section["singular_keep"]):
        return word
    forms = [word[: len(word) - len(ending)] + replacement for ending, replacement in section["singular"]
             if word.endswith(ending) and len(word) > len(ending) + 1]
    known = english_words(forms)
    return next((f for f in forms if f in known), forms[0] if forms else word)


def label_of(phrase: str) -> str | None:
    """The detector label a counted phrase names ("red cars" -> car), or None for things in general. An unknown last
    word after a known label ("dogs plz") does not hide the label; with no known label, the last plural ("vehicles
    involved" -> vehicle), else the last word, singular."""
    words = phrase.lower().replace("-", " ").split()
    if not words:
        return None
    vocabulary, generic = _vocabulary()
    # the known label nearest the end ("count dogs plz" -> dog), the longest wording first ("traffic lights"); things
    # in general ("objects") name none
    for end in range(len(words), 0, -1):
        if words[end - 1] in generic:
            return None
        for n in range(min(3, end), 0, -1):
            tail = words[end - n:end]
            for form in (" ".join(tail), " ".join([*tail[:-1], singular(tail[-1])])):
                if form in vocabulary:
                    return vocabulary[form]
    # no known label: the last plural with the words before it that name the thing ("how many hard hats" -> hard
    # hat, for a detector that reads any label; "how many vehicles involved" -> vehicle), else the last word
    last = next((i for i in range(len(words) - 1, -1, -1) if singular(words[i]) != words[i]), None)
    if last is None:
        return singular(words[-1])
    before = words[:last]
    while before and (before[0] in _quantities() or before[0] in generic):
        before = before[1:]
    return " ".join([*before, singular(words[last])])


@lru_cache(maxsize=1)
def _quantities() -> frozenset[str]:
    """Words before a counted noun that say how many or which, not what ("different", "separate")."""
    return frozenset(str(w).lower() for w in default_lexicon().raw["counting"]["quantities"])


def counted_label(masked: str, start: int, end: int) -> str | None:
    """The label counted in ``masked[start:end]`` (a clause of the masked request), or None."""
    m = pattern("counting", "phrase").search(masked, start, end)
    return label_of(m.group("label")) if m else None
