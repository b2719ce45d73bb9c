"""Request parsing for the offline planner: resources, quoted strings, clauses, questions.

The parser keeps character offsets into the original request so that later steps can reason about order of
mention ("describe it, then read it aloud") and about which clause a resource or a literal belongs to.
Quoted strings and file names are *masked* in ``ParsedRequest.masked`` (their characters replaced by ``0``) so
that the words inside a quote ("read 'describe the sea' aloud") never trigger a task.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from ...media import is_url, media_of_name

_TEXT_EXT = (".txt", ".md")
# A file-ish token: a path ending in a known media or text extension, or an http(s) URL.
_URL = re.compile(r"https?://[^\s'\"<>]+", re.I)
_PATH = re.compile(r"(?<![\w/.~-])/?(?:[\w~.-]+/)*[\w~.-]*\w\.[A-Za-z0-9]{2,5}(?![\w/])")
# Quotes: straight quotes must not touch letters on the outside, so apostrophes ("don't") are never quotes.
_QUOTES = (
    re.compile(r"(?<![\w])'((?:[^'\n]|'(?=[a-z]))*?[^\s'])'(?![A-Za-z0-9])"),
    re.compile(r'"([^"\n]+?)"'),
    re.compile(r"\u201c([^\u201d\n]+?)\u201d"),
    re.compile(r"\u2018([^\u2019\n]+?)\u2019"),
)
# "Summarize this: <text>" - a literal after a colon, up to the end of the line.
_COLON_LITERAL = re.compile(r"(?<=\w):[ \t]+(?=\S)([^\n]{8,})")
# Words that mark a new clause: sentence ends, "then", "after that", or "and"/"," followed by an action verb.
_CHAIN_WORDS = (
    r"(?:and\s+then|then|after\s+that|afterwards?|next|finally|and\s+finally|later|subsequently|once\s+done|"
    r"second(?:ly)?|third(?:ly)?|fourth(?:ly)?|lastly)"
)
# "... and save it as out.png": an imperative save names a destination ("I saved it as x.jpg" names an input).
_SAVE_AS = re.compile(
    r"(?:\b(?:and|then|please|you|to)\s+|^|[,;.:]\s*)(?:save|store|export|write)\s+"
    r"(?:(?:it|this|that|them|the\s+\w+(?:\s+\w+)?)\s+)?(?:as|to|into)\s*['\"]?$",
    re.I,
)

QUESTION_START = (
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "where",
    "when",
    "why",
    "how",
    "is",
    "are",
    "was",
    "were",
    "does",
    "do",
    "did",
    "can",
    "could",
    "should",
    "will",
    "would",
    "has",
    "have",
)
# Politeness and framing that comes before the actual question ("could you tell me how many...").
_POLITE = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|and|also|please)[,!]?\s+)*"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:tell\s+me|let\s+me\s+know|figure\s+out|find\s+out|check)\s+|"
    r"(?:please\s+)?(?:tell\s+me|let\s+me\s+know)\s+|"
    r"i\s+(?:want|would\s+like|'d\s+like|need)\s+to\s+(?:know|find\s+out)\s+|i\s+wonder\s+|i'm\s+wondering\s+|"
    r"i\s+am\s+wondering\s+|(?:i'm\s+|i\s+am\s+)?curious\s+(?:to\s+(?:know|find\s+out|see)\s+|about\s+)|"
    r"(?:please\s+)?find\s+out\s+)",
    re.I,
)
_REQUEST_START = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|please|so|also|and)[,!]?\s+)*(?:(?:can|could|would|will)\s+(?:you|we|i)\b|"
    r"(?:is|would)\s+it\s+(?:be\s+)?possible\b|is\s+there\s+(?:a|any)\s+way\b|do\s+you\s+think\b|"
    r"would\s+you\s+mind\b|how\s+about\b|what\s+about\b|any\s+(?:idea|chance)\b)",
    re.I,
)


@dataclass(frozen=True)
class Span:
    """A piece of the request: offsets into the original text and the text itself."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Resource:
    """A file or URL the request names, or one the user attached / an earlier turn produced."""

    name: str
    media: str  # text / image / audio / video
    start: int = -1  # offset in the request, -1 for resources known only from the context
    origin: str = "request"  # request / user / history
    output: bool = False  # "save it as out.png": a destination, never an input


@dataclass(frozen=True)
class Clause:
    """A stretch of the request that asks for one thing; ``chained`` when it opens with "then", "after that"..."""

    index: int
    start: int
    end: int
    chained: bool


@dataclass
class ParsedRequest:
    """The request split into the parts the planner reasons about."""

    text: str
    masked: str
    quotes: list[Span] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    sentences: list[Span] = field(default_factory=list)
    clauses: list[Clause] = field(default_factory=list)

    def clause_at(self, pos: int) -> Clause:
        """The clause containing offset ``pos`` (the last one for offsets past the end)."""
        for c in self.clauses:
            if c.start <= pos < c.end:
                return c
        return self.clauses[-1]

    def sentence_at(self, pos: int) -> Span:
        for s in self.sentences:
            if s.start <= pos < s.end:
                return s
        return self.sentences[-1] if self.sentences else Span(0, len(self.text), self.text)

    def quotes_in(self, start: int, end: int) -> list[Span]:
        return [q for q in self.quotes if start <= q.start < end]

    def resources_in(self, start: int, end: int, media: str | None = None) -> list[Resource]:
        return [
            r for r in self.resources if start <= r.start < end and not r.output and (media is None or r.media == media)
        ]


def media_of_resource(name: str) -> str | None:
    """Media type of a file name or URL, counting ``.txt`` files as text."""
    media = media_of_name(name)
    if media:
        return media
    if name.lower().endswith(_TEXT_EXT):
        return "text"
    return None


def parse_request(text: str, connective_verbs: list[str]) -> ParsedRequest:
    """Parse ``text``; ``connective_verbs`` are action verbs after which ", and <verb>" starts a new clause."""
    masked = list(text)
    resources: list[Resource] = []
    quotes: list[Span] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    def mask(a: int, b: int) -> None:
        # Spaces are masked too: a quote or file counts as one word for the patterns ("read '...' aloud").
        for i in range(a, b):
            masked[i] = "0"
        taken.append((a, b))

    for rx in (_URL, _PATH):
        for m in rx.finditer(text):
            name = m.group(0).rstrip(".,;:!?)")
            a, b = m.start(), m.start() + len(name)
            media = media_of_resource(name) if not is_url(name) else (media_of_name(name) or "image")
            if media is None or not free(a, b):
                continue
            before = text[max(0, a - 40) : a]
            is_out = bool(_SAVE_AS.search(before))
            resources.append(Resource(name=name, media=media, start=a, output=is_out))
            mask(a, b)
    for rx in _QUOTES:
        for m in rx.finditer(text):
            a, b = m.start(1), m.end(1)
            if not free(m.start(), m.end()) and not any(s == a and e == b for s, e in taken):
                continue
            if any(r.start == a for r in resources):
                continue  # a quoted file name: already a resource
            quotes.append(Span(a, b, m.group(1).strip()))
            mask(a, b)
    for m in _COLON_LITERAL.finditer(text):
        a, b = m.start(1), m.end(1)
        words = len(m.group(1).split())
        # Three words or more anywhere; two when they end the request ("the sentiment of: great product").
        if free(a, b) and (words >= 3 or (words == 2 and not text[b:].strip())):
            quotes.append(Span(a, b, m.group(1).strip()))
            mask(a, b)
    quotes.sort(key=lambda q: q.start)
    resources.sort(key=lambda r: r.start)
    masked_text = "".join(masked)
    sentences = _sentences(text, masked_text)
    clauses = _clauses(masked_text, sentences, connective_verbs)
    return ParsedRequest(
        text=text, masked=masked_text, quotes=quotes, resources=resources, sentences=sentences, clauses=clauses
    )


def _sentences(text: str, masked: str) -> list[Span]:
    out: list[Span] = []
    start = 0
    for m in re.finditer(r"[.!?]+(?=\s|$)|\n+", masked):
        end = m.end()
        if text[start:end].strip():
            out.append(_trimmed(text, start, end))
        start = end
    if text[start:].strip():
        out.append(_trimmed(text, start, len(text)))
    return out or [Span(0, len(text), text)]


def _trimmed(text: str, a: int, b: int) -> Span:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return Span(a, b, text[a:b])


def _clauses(masked: str, sentences: list[Span], verbs: list[str]) -> list[Clause]:
    verb_alt = "|".join(sorted((re.escape(v) for v in verbs), key=len, reverse=True)) or "(?!)"
    boundary = re.compile(
        rf"(?:[,;:]\s*|\s+)(?:and\s+|but\s+|please\s+)?(?={_CHAIN_WORDS}\b)"
        rf"|[,;]\s*(?:and\s+)?(?:also\s+|please\s+)?(?=(?:{verb_alt})\b)"
        rf"|\s+and\s+(?:also\s+|please\s+)?(?=(?:{verb_alt})\b)"
        rf"|\s+(?=(?:also|as\s+well\s+as|plus)\s+(?:{verb_alt})\b)",
        re.I,
    )
    chain_start = re.compile(rf"^\W*(?:and\s+|but\s+|please\s+)?{_CHAIN_WORDS}\b", re.I)
    out: list[Clause] = []
    for s in sentences:
        cuts = (
            [s.start] + [m.start() for m in boundary.finditer(masked, s.start, s.end) if m.start() > s.start] + [s.end]
        )
        cuts = sorted(set(cuts))
        for a, b in itertools.pairwise(cuts):
            if not re.sub(r"\band\b", "", masked[a:b]).strip(" ,;"):
                continue
            out.append(Clause(len(out), a, b, bool(chain_start.match(masked[a:b]))))
    if out:  # clauses must tile the whole text so that every offset belongs to one
        out[0] = Clause(0, 0, out[0].end, out[0].chained)
        tiled = [out[0]]
        for c in out[1:]:
            tiled.append(Clause(c.index, tiled[-1].end, c.end, c.chained))
        tiled[-1] = Clause(tiled[-1].index, tiled[-1].start, max(len(masked), tiled[-1].end), tiled[-1].chained)
        return tiled
    return [Clause(0, 0, len(masked), False)]


def extract_question(sentence: Span, masked_sentence: str) -> str | None:
    """The question a sentence asks, without politeness ("could you tell me how many cats..."), or None.

    The question may start the sentence or follow a comma or colon ("Given a.jpg, please tell me how many...").
    """
    lead = re.match(r"^\s*(?:['\"\u201c\u2018]?0+['\"\u201d\u2019]?[\s.:,;-]*)+", masked_sentence)
    offset = lead.end() if lead else 0
    asked = sentence.text.rstrip().endswith("?")
    starts = [offset] + [m.end() for m in re.finditer(r"[,;:]\s*|\sand\s+", masked_sentence) if m.end() > offset]
    for start in starts:
        question = _question_at(sentence.text[start:].strip(), asked)
        if question:
            return question
    return None


def _question_at(part: str, asked: bool) -> str | None:
    m = _POLITE.match(part)
    body = part[m.end() :] if m else part
    if not m:
        if _REQUEST_START.match(part):
            return None  # "Can you describe this photo?" asks for a task, not a question about content
        first = re.match(r"[A-Za-z']+", body)
        if not asked or not first or first.group(0).lower() not in QUESTION_START:
            return None
    body = body.rstrip(" .!?")
    if not body:
        return None
    if m:  # embedded question ("tell me what color the car is"): put the verb back in front
        body = _EMBEDDED.sub(lambda e: " ".join(w for w in (e[1], e[3], e[2], e[4]) if w), body)
    return body[0].upper() + body[1:] + "?"


_EMBEDDED = re.compile(
    r"^((?:what|which|whose|how)(?: (?!the\b|a\b|an\b|this\b|that\b|it\b|they\b)\w+)?|who|where|when|why) "
    r"((?:the|a|an|this|that|these|those|my|his|her|their|its)\b.+?|it|they|he|she) (is|are|was|were)(?: (\w+ing))?$",
    re.I,
)
