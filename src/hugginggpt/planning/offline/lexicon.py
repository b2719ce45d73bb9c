"""The offline planner's English wording, loaded once from ``lexicon.yaml``.

Every English word list and pattern the rules use lives in the YAML file: the task triggers and the sections that
read the rest of a request (``parsing``, ``literals``, ``references``, ``questions``, ``assembly``). Code keeps only
the grammar-free machinery (offsets, masks, quotes, files), so new wording is a data change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Lexicon:
    """The parsed keyword lexicon (see ``lexicon.yaml``)."""

    raw: dict[str, Any]

    @property
    def verbs(self) -> list[str]:
        """Action verbs that start a new clause after "and" or a comma."""
        return list(self.raw.get("verbs", []))

    def media_nouns(self) -> dict[str, list[str]]:
        """Nouns that name each medium ("photo" -> image)."""
        return dict(self.raw.get("media_nouns", {}))

    def refs(self, task: str) -> list[str]:
        """Nouns that refer back to a task's output ("the description")."""
        return list(self.raw["tasks"].get(task, {}).get("refs", []))

    def words(self, section: str, key: str) -> list[str]:
        """A word list of a wording section."""
        return [str(w) for w in self.raw.get(section, {}).get(key, [])]


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The lexicon shipped with the package (read once per process)."""
    text = resources.files(__package__).joinpath("lexicon.yaml").read_text(encoding="utf-8")
    return Lexicon(yaml.safe_load(text))


def words_alt(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first, a space matching any run of white space."""
    return "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True))


def words_rx(words: Iterable[str]) -> re.Pattern[str]:
    """A case-insensitive pattern that matches any of ``words`` as whole words."""
    alt = words_alt(words) or "(?!)"
    return re.compile(rf"\b(?:{alt})\b", re.I)


@cache
def pattern(section: str, key: str) -> re.Pattern[str]:
    """A compiled (case-insensitive) pattern of a wording section.

    A pattern may name word lists of the lexicon as ``<section.key>`` (``<parsing.chain_words>``), or a top-level
    list as ``<key>`` (``<document_nouns>``): they are
    replaced by the list's alternation, so a list is written once and shared by the patterns that need it.
    """
    return re.compile(source(section, key), re.I)


def source(section: str, key: str) -> str:
    """The source of a wording section's pattern, its ``<section.key>`` word lists expanded."""
    return expand(str(default_lexicon().raw[section][key]))


def not_after(words: Iterable[str]) -> str:
    """Negative lookbehinds, one per entry of ``words`` (a lookbehind must have a fixed width, so an alternation
    of words of several lengths cannot be one): the pattern that follows must not come right after any of them. An
    entry that starts with a letter starts at a word boundary ("i " does not match the end of "hi "); one written
    with a leading "-" is the end of a word ("-n't " matches "don't ")."""
    out = []
    for w in sorted(words, key=len, reverse=True):
        ending = w.startswith("-")
        body = re.escape(w[1:] if ending else w).replace(r"\ ", " ")
        out.append(rf"(?<!\b{body})" if w[:1].isalpha() else rf"(?<!{body})")
    return "".join(out)


def expand(raw: str, lex: Lexicon | None = None) -> str:
    """``raw`` with each ``<section.key>`` word list of ``lex`` (default: the shipped lexicon) replaced by its
    alternation (``<section.key.entry>``: the list under ``entry`` of a mapping), and each ``<!section.key>`` by
    ``not_after`` of the list; task triggers may name word lists too."""
    lex = lex or default_lexicon()
    raw = re.sub(r"<!([a-z_]+)\.([a-z_]+)>", lambda m: not_after(lex.words(m.group(1), m.group(2))), raw)

    def sub(m: re.Match[str]) -> str:
        sec, key, entry = m.group(1), m.group(2), m.group(3)
        if not key:  # a top-level list; anything else in angle brackets (a named group "(?P<field>") stays
            listed = lex.raw.get(sec)
            if not isinstance(listed, list):
                return m.group(0)
            return words_alt(str(w) for w in listed) or "(?!)"
        if entry:  # a list inside a mapping: "<generation.nouns.text-generation>"
            return words_alt(str(w) for w in lex.raw.get(sec, {}).get(key, {}).get(entry, [])) or "(?!)"
        return words_alt(lex.words(sec, key)) or "(?!)"

    return re.sub(r"<([a-z_]+)(?:\.([a-z_]+)(?:\.([a-z-]+))?)?>", sub, raw)
