"""Rules for phrases that ask for several things at once, and for things made "like this one".

- **Several tasks in one phrase**: "show me a joke and an image of a cat", "generate a video and audio about a dog":
  a request verb followed by a list of the nouns that name what each task makes (the lexicon's
  ``generation.nouns``). Each noun becomes a detection, and the words after the list are the text they all share.
- **Things asked for without their verb**: "a picture of a burger, a short poem about burgers": after a described
  thing, a new article and noun of the list start another detection.
- **Where a described thing ends**: the words after "draw a picture of" describe the picture, up to a connective
  followed by another task ("tell me a joke about cats *but* say it out loud").
- **The thing named last**: "album cover: a cello melting into a sunset -> image": a request that describes
  something and only then names what to make, as its one last step, asks for that thing from the description.
- **The thing named first**: "short video: a wrestler slams his opponent, slow motion": a request that opens with
  what to make and a colon asks for it, and the words after the colon describe it.
- **Described before its noun**: "make a crystal sword image": with nothing after the noun, the words between the
  request verb and the noun are the prompt.
- **A style in the description**: "a picture of a lighthouse in a storm, in the style of an old oil painting": the
  style is part of the picture's prompt, not an edit of the picture made.
- **Similar to an image**: "a picture similar to this one", "a pic like it": the new image (video) is generated from
  a caption of the image referred to, not from the words.

All the wording is in ``lexicon.yaml``; this module only puts it together.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import replace
from functools import lru_cache

from .lexicon import default_lexicon, pattern, source, words_alt
from .literals import captured_text
from .spelling import english_words
from .text import ParsedRequest
from .types import Detection

# Tasks whose text may come from a caption of an image the request points at ("a picture like this one").
FROM_IMAGE = ("text-to-image", "text-to-video")


@lru_cache(maxsize=1)
def _nouns() -> dict[str, str]:
    """Noun (lower case, single-spaced) -> the task that makes it."""
    spec = default_lexicon().raw["generation"]["nouns"]
    return {" ".join(str(n).lower().split()): task for task, nouns in spec.items() for n in nouns}


@lru_cache(maxsize=1)
def _list_rx() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(a request verb with a list of two or more things, one thing of such a list)."""
    lex = default_lexicon()
    verbs, arts, adjs, joins, objs = (words_alt(lex.words("generation", k)) for k in
                                      ("request_verbs", "articles", "adjectives", "joins", "objects"))
    nouns = words_alt(_nouns())
    item = rf"(?:(?:{arts})\s+)?(?:(?:{adjs})\s+)*(?:{nouns})(?:e?s)?\b"
    whole = re.compile(rf"\b(?:{verbs})\b(?:\s+(?:{objs}))?\s+(?P<list>{item}(?:\s*(?:{joins})\s*{item})+)", re.I)
    noun = re.compile(rf"\b(?P<noun>{nouns})(?:e?s)?\b", re.I)
    return whole, noun


def _task_of(noun: str) -> str | None:
    key = " ".join(noun.lower().split())
    return _nouns().get(key) or _nouns().get(key.rstrip("s"))


def described_end(req: ParsedRequest, start: int, end: int, others: list[Detection]) -> int:
    """Where the words that describe a thing, from ``start`` to the clause ``end``, stop: before a connective
    ("and", "but", ",") that a later task's words follow."""
    connective = pattern("phrases", "connective")
    for d in sorted(others, key=lambda d: d.start):
        if start < d.start < end:
            m = connective.search(req.masked, start, d.start)
            if m:
                return m.start()
    return end


def coordinated(req: ParsedRequest, found: list[Detection], captured: list[bool],
                tools: Container[str]) -> tuple[list[Detection], list[bool]]:
    """Replace the detections inside "a joke and an image of a cat" by one per thing asked for."""
    whole, noun_rx = _list_rx()
    out, flags = list(found), list(captured)
    for m in whole.finditer(req.masked):
        ls, le = m.span("list")
        members: list[tuple[int, int, str]] = []
        for n in noun_rx.finditer(req.masked, ls, le):
            task = _task_of(n.group("noun"))
            if task and task in tools:
                members.append((n.start(), n.end(), task))
        if len(members) < 2:
            continue
        clause = req.clause_at(ls)
        tail_end = described_end(req, le, clause.end, out)
        shared, similar = _shared_text(req, le, tail_end)
        keep = [i for i, d in enumerate(out) if not m.start() <= d.start < le]
        out, flags = [out[i] for i in keep], [flags[i] for i in keep]
        for i, (a, b, task) in enumerate(members):
            start = ls if i == 0 else members[i - 1][1]
            capture = shared
            if task == "text-generation":  # "a joke" + "about a cat": the thing to write is part of the prompt
                thing = req.text[start:b].strip(" ,&")
                thing = pattern("phrases", "join_lead").sub("", thing).strip()
                about = default_lexicon().raw["generation"]["about"]
                capture = f"{thing} {about} {shared}" if shared else thing
            out.append(Detection(task, a, le, capture=capture, from_image=similar and task in FROM_IMAGE))
            flags.append(True)
    return out, flags


@lru_cache(maxsize=1)
def _ellipsis_rx() -> re.Pattern[str]:
    return re.compile(source("generation", "ellipsis").replace("<GENERATION_NOUNS>", words_alt(_nouns())), re.I)


def elliptical(req: ParsedRequest, found: list[Detection], captured: list[bool],
               tools: Container[str]) -> tuple[list[Detection], list[bool]]:
    """Add the things asked for without a verb after a described one: "a picture of a burger, a short poem about
    burgers" (the poem shares the picture's request verb)."""
    out, flags = list(found), list(captured)
    makers = set(_nouns().values())
    for d, c in zip(found, captured, strict=True):
        if not c or d.task not in makers:
            continue
        clause = req.clause_at(d.start)
        for m in _ellipsis_rx().finditer(req.masked, d.end, clause.end):
            task = _task_of(m.group("noun"))
            if not task or task not in tools or any(o.start == m.start("item") for o in out):
                continue
            start, end = m.start("item"), m.end("item")
            if task == "text-generation":  # the thing to write and what follows: "a short poem about burgers"
                capture = captured_text(req, start, described_end(req, end, clause.end, out))
            else:
                capture = captured_text(req, end, described_end(req, end, clause.end, out))
            out.append(Detection(task, start, end, capture=capture))
            flags.append(True)
    order = sorted(range(len(out)), key=lambda i: out[i].start)
    return [out[i] for i in order], [flags[i] for i in order]


def _shared_text(req: ParsedRequest, start: int, end: int) -> tuple[str | None, bool]:
    """The text the things of a list share (the words or quote after it), and whether it says "like this one"."""
    if pattern("generation", "similar").match(req.masked, start, end):
        return None, True
    quotes = req.quotes_in(start, end)
    if quotes:
        return quotes[0].text, False
    return captured_text(req, start, end), False


def similar_to_image(req: ParsedRequest, found: list[Detection]) -> list[Detection]:
    """Mark generation asked "similar to / like this one": its text is a caption of that image."""
    similar = pattern("generation", "similar")
    out = []
    for d in found:
        clause = req.clause_at(d.start)
        if d.task in FROM_IMAGE and not d.from_image and similar.match(req.masked, d.end, clause.end):
            d = replace(d, capture=None, from_image=True)
        out.append(d)
    return out


def named_last(req: ParsedRequest, found: list[Detection], tools: Container[str]) -> list[Detection]:
    """"<description> -> image" (read as "<description>, then image"): with no task in the description, the noun of
    the last step asks for that thing, and the description (its quote or the words after its colon, if any) is
    its text."""
    m = pattern("generation", "named_last").match(req.text)  # (the words after a colon are masked whole)
    task = _task_of(m.group("noun")) if m else None
    if m is None or task is None or task not in tools or any(d.start < m.start("noun") for d in found):
        return found
    quoted = [q for q in req.quotes_in(m.start("prompt"), m.end("prompt")) if q.end <= m.end("prompt")]
    if len(quoted) > 1 or req.resources_in(m.start("prompt"), m.end("prompt")):
        return found
    prompt = quoted[0].text if quoted else req.text[m.start("prompt") : m.end("prompt")]
    prompt = prompt.rsplit(":", 1)[-1].strip(" ,.")  # "album cover: a cello ..." -> "a cello ..."
    if not prompt:
        return found
    return [Detection(task, m.start("noun"), m.end("noun"), capture=prompt),
            *[d for d in found if d.start >= m.end("noun")]]


def named_first(req: ParsedRequest, found: list[Detection], tools: Container[str]) -> list[Detection]:
    """"short video: <description>": with no task before the colon's text ends, the opening noun asks for that thing
    and the colon's text is its prompt."""
    m = pattern("generation", "named_first").match(req.masked)
    task = _task_of(m.group("noun")) if m else None
    if m is None or task is None or task not in tools:
        return found
    text = next((q for q in req.quotes if q.start == m.end()), None)  # the colon's text (not a file name)
    prompt = text.text.strip(" .!") if text else ""
    if text is None or not prompt or any(d.start < text.end for d in found):
        return found
    return [Detection(task, m.start("noun"), m.end("noun"), capture=prompt), *found]


def styled(req: ParsedRequest, found: list[Detection]) -> list[Detection]:
    """Fold an edit asked only by "in the style of ..." into the prompt of the picture (video) described before it in
    the same clause, when no file is named between them."""
    out = list(found)
    for d in found:
        if d.task != "image-to-image" or not d.capture or not pattern("generation", "style_tail").match(req.masked,
                                                                                                        d.start):
            continue
        clause = req.clause_at(d.start)
        gen = max((g for g in out if g.task in FROM_IMAGE and g.capture and clause.start <= g.start < d.start),
                  key=lambda g: g.start, default=None)
        if gen is None or req.resources_in(gen.start, d.start):
            continue
        out[out.index(gen)] = replace(gen, capture=f"{gen.capture}, in the style of {d.capture}")
        out.remove(d)
    return out


def foreign_into_english(req: ParsedRequest, found: list[Detection]) -> list[Detection]:
    """"Put this in plain English for me: 'Ich habe keine Zeit heute.'": a rewrite into plain English of a quoted
    text that is mostly not English is a translation (into English, the translator's default)."""
    out = list(found)
    for d in found:
        if d.task != "text2text-generation" or not pattern("edits", "into_english").search(req.masked, d.start, d.end):
            continue
        quote = next(iter(req.quotes_in(d.start, len(req.text))), None)
        if quote is not None and not mostly_english(req.text[quote.start : quote.end]):
            out[out.index(d)] = replace(d, task="translation")
    return out


def mostly_english(text: str) -> bool:
    """Whether most words of three letters or more of ``text`` are in the English dictionary (True when it has
    fewer than two such words: too little to tell)."""
    words = [w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) >= 3]
    if len(words) < 2:
        return True
    known = english_words(words)
    return sum(w in known for w in words) >= 0.4 * len(words)


def described_before(matched: str, task: str) -> str | None:
    """"make a crystal sword image" -> "a crystal sword": the words of a generation trigger's match between its
    request verb and the noun of what it makes, when they say more than an article and adjectives."""
    lex = default_lexicon()
    words = matched.split()
    nouns = [i for i, w in enumerate(words) if _task_of(w) == task]
    if len(words) < 3 or not nouns or nouns[-1] < 2:
        return None
    start = 2 if words[1].lower() in lex.words("generation", "objects") else 1
    between = words[start : nouns[-1]]
    plain = set(lex.words("generation", "articles")) | set(lex.words("generation", "adjectives"))
    lowered = [w.lower() for w in between]
    if not lowered or lowered[0] not in lex.words("generation", "new_articles") or all(w in plain for w in lowered) \
            or set(lowered) & set(lex.words("generation", "likeness")):
        return None  # "imagine I have this image", "a similar picture to x.png": not described by these words
    return " ".join(between)
