"""Extractive question answering without a QA model (none ships offline): MiniLM finds the sentence, spaCy the span.

``answer_from_sentences`` ranks candidate sentences by embedding similarity to the question (plus a small bonus for
shared content words), then returns the entity in the best sentence whose type fits the question word (who -> PERSON,
when -> DATE, how much -> MONEY ...), or the whole sentence when nothing fits. ``answer_from_lines`` does the same for
OCR lines of a document, but first looks for a "key: value" line that names the question's key words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...embedding import get_minilm
from ._nlp import parse

# Question patterns -> spaCy entity labels (the first label found in the sentence wins); on a tie of position the
# earlier, more specific pattern is taken.
_EXPECTED: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(p, re.I), labels) for p, labels in (
        (r"\bhow much\b|\bwhat (?:is|was) the (?:price|cost|total|amount)\b|\bhow expensive\b",
         ("MONEY", "QUANTITY", "PERCENT", "CARDINAL")),
        (r"\bhow many\b", ("CARDINAL", "QUANTITY")),
        (r"\bhow long\b", ("DATE", "TIME", "QUANTITY")),
        (r"\bhow (?:far|big|tall|heavy|large|high|wide)\b", ("QUANTITY", "CARDINAL")),
        (r"\bhow old\b", ("DATE", "CARDINAL")),
        (r"\bwhat (?:percent|percentage|share|fraction)\b", ("PERCENT", "CARDINAL")),
        (r"\bwhat (?:time)\b", ("TIME", "DATE")),
        (r"\bwhen\b|\bwhat (?:year|date|day|month)\b", ("DATE", "TIME")),
        (r"\bwhere\b|\bwhich (?:country|city|state|place|town|region)\b|\bwhat (?:country|city|place)\b",
         ("GPE", "LOC", "FAC")),
        (r"\bwhich (?:company|organi[sz]ation|firm|team|agency)\b", ("ORG",)),
        (r"\bwhat language\b", ("LANGUAGE", "NORP")),
        (r"\bwho(?:m|se)?\b", ("PERSON", "ORG", "NORP")),
    ))
_STOPWORDS = frozenset((
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "of", "in", "on", "at", "to", "for", "from",
    "by", "with", "and", "or", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "much",
    "many", "does", "do", "did", "will", "would", "can", "could", "should", "shall", "may", "might", "this",
    "that", "these", "those", "it", "its", "there", "their", "his", "her", "they", "he", "she", "we", "you",
    "i", "me", "my", "our", "your", "about", "as", "than", "then", "into", "please", "tell", "give", "find"
))
_MONEY = re.compile(r"[$\u20ac\u00a3\u00a5]\s?\d[\d,]*(?:\.\d+)?"
                    r"|\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars?)\b", re.I)
_MONEY_WORDS = frozenset((
    "total", "due", "amount", "price", "cost", "balance", "paid", "pay", "subtotal", "tax", "sum", "charge",
    "fee"
))
# Words a document writes in short form: "Invoice No.", "Acct #".
_SYNONYMS = {"number": {"number", "no", "num", "nr", "#"}, "account": {"account", "acct"},
             "amount": {"amount", "amt"}, "quantity": {"quantity", "qty"}, "date": {"date", "dated"}}
_WORD = re.compile(r"[a-z0-9]+|#")


@dataclass
class Answer:
    """An extracted answer with the sentence it came from."""

    answer: str
    sentence: str
    score: float
    label: str | None = None  # the entity label of the answer, None when the answer is the sentence


def expected_labels(question: str) -> tuple[str, ...]:
    """Entity labels that fit the question word, most wanted first (empty for what/why/which questions).

    The earliest question word decides: "Who announced when ...?" asks for a person, not a date."""
    found = [(m.start(), labels) for pattern, labels in _EXPECTED if (m := pattern.search(question))]
    return min(found, key=lambda item: item[0])[1] if found else ()


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and w != "#"}


def answer_from_sentences(question: str, sentences: list[str], search: int = 1) -> Answer:
    """The best sentence for ``question`` and, where the question asks for a typed thing, the entity in it.

    ``search`` > 1 looks for a fitting entity in that many best-ranked sentences (useful for short OCR lines)."""
    embeddings = get_minilm().embed([question, *sentences])
    scores = embeddings[1:] @ embeddings[0]
    keys = content_words(question)
    if keys:
        scores = scores + 0.1 * np.array([len(keys & content_words(s)) / len(keys) for s in sentences])
    ranked = np.argsort(-scores).tolist()
    labels = expected_labels(question)
    for i in ranked[:search] if labels else ():
        entity = _pick_entity(sentences[i], labels, question)
        if entity:
            return Answer(entity[0], sentences[i], float(scores[i]), entity[1])
    best = ranked[0]
    return Answer(sentences[best], sentences[best], float(scores[best]))


def _pick_entity(sentence: str, labels: tuple[str, ...], question: str) -> tuple[str, str] | None:
    # An entity that repeats the question's words ("Invoice No" for "which company issued the invoice?") is the
    # subject, not the answer.
    keys = content_words(question)
    found = [(e.text, e.label_) for e in parse(sentence).ents
             if e.text.lower() not in question.lower() and not content_words(e.text) & keys]
    for label in labels:
        for text, entity_label in found:
            if entity_label == label:
                return text, label
    return None


def answer_from_lines(question: str, lines: list[str]) -> Answer:
    """Answer from the text lines of a document.

    Typed questions (who, when, which company...) first look for a fitting entity in any line. Otherwise a line that
    names the question's key words gives the value after them ("Total due: $42.50"), or the next line when the value
    stands alone; a money question with no such line takes the amount of the last total/due line. The sentence
    heuristic over all lines is the last resort."""
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        raise ValueError("answer_from_lines needs at least one non-empty line")
    keys = content_words(question)
    wants_money = bool(keys & _MONEY_WORDS) or bool(re.search(r"\bhow much\b", question, re.I))
    if expected_labels(question) and not wants_money:
        answer = answer_from_sentences(question, lines, search=len(lines))
        if answer.label:
            return answer
    found = _key_value(keys, lines, wants_money) or (_money_line(lines) if wants_money else None)
    return found or answer_from_sentences(question, lines)


def _key_value(keys: set[str], lines: list[str], wants_money: bool) -> Answer | None:
    best: tuple[int, int] | None = None  # (matched keys, line index); the first line wins ties
    for i, line in enumerate(lines):
        matched = len(_matched_keys(keys, line))
        if matched and (best is None or matched > best[0]):
            best = (matched, i)
    if best is None:
        return None
    matched, i = best
    value = _value_after_keys(keys, lines[i])
    if not value and i + 1 < len(lines):
        value = lines[i + 1]
    money = (_MONEY.search(value) or _MONEY.search(lines[i])) if wants_money else None
    if money:
        value = money.group()
    if not value:
        return None
    return Answer(value, lines[i], matched / max(1, len(keys)), "MONEY" if money else None)


def _money_line(lines: list[str]) -> Answer | None:
    with_money = [(i, m) for i, line in enumerate(lines) if (m := _MONEY.search(line))]
    if not with_money:
        return None
    totals = [(i, m) for i, m in with_money if re.search(r"\b(?:total|due|balance)\b", lines[i], re.I)]
    i, money = (totals or with_money)[-1]  # totals stand at the bottom of an invoice
    return Answer(money.group(), lines[i], 0.5, "MONEY")


def _is_key(word: str, key: str) -> bool:
    # Short forms ("No." for number) and longer words ("invoiceno" when OCR drops a space) count as the key.
    return word in _SYNONYMS.get(key, {key}) or (len(key) >= 4 and word.startswith(key))


def _matched_keys(keys: set[str], line: str) -> set[str]:
    words = set(_WORD.findall(line.lower()))
    return {k for k in keys if any(_is_key(w, k) for w in words)}


def _value_after_keys(keys: set[str], line: str) -> str:
    """The text after the last key word of ``line`` ("Total due: $42.50" -> "$42.50")."""
    last_end = 0
    for match in _WORD.finditer(line.lower()):
        if any(_is_key(match.group(), k) for k in keys):
            last_end = match.end()
    return line[last_end:].strip(" \t:.#-=|")
