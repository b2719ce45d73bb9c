"""Which label of a detector a word asks for ("people" -> person, "kittens" -> cat face), without loading it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ...guard import wording


def match_label(asked: str, known: Iterable[str]) -> str | None:
    """The label among ``known`` that ``asked`` (a noun or a short phrase) names, or None.

    A label matches itself and its plural; the embedded detector's labels also match the words listed for them in
    ``guard.yaml`` (``detector_labels``).
    """
    words = " ".join(re.findall(r"[a-z]+", asked.lower()))
    if not words:
        return None
    synonyms: dict[str, list[str]] = wording().get("detector_labels", {})
    best: tuple[int, str] | None = None
    for label in known:
        names = {label.lower(), label.lower() + "s", *(w.lower() for w in synonyms.get(label, []))}
        hits = [len(n) for n in names if re.search(r"\b" + re.escape(n) + r"\b", words)]
        # the longest name wins: "cat faces" is the cat-face label, not "faces"
        if hits and (best is None or max(hits) > best[0]):
            best = (max(hits), label)
    return best[1] if best else None
