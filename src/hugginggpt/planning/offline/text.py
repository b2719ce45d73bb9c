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
from functools import lru_cache

from ...media import PATH_RE as _PATH
from ...media import is_url, media_of_name
from .lexicon import default_lexicon, pattern, source, words_alt

_TEXT_EXT = (".txt", ".md")
# A file-ish token: a path ending in a known media or text extension, or an http(s) URL.
_URL = re.compile(r"https?://[^\s'\"<>]+", re.I)
# Quotes: straight quotes must not touch letters on the outside, so apostrophes ("don't") are never quotes. Double
# quotes may span lines (a pasted paragraph to read aloud or translate); single quotes stay on one line.
_GUILLEMETS = re.compile(r"\u00ab\s*([^\u00bb]+?)\s*\u00bb")  # spaced as in French or not
_QUOTES = (
    re.compile(r'"([^"]+?)"'),
    re.compile(r"\u201c([^\u201d]+?)\u201d"),
    re.compile(r"\u2018([^\u2019\n]+?)\u2019"),
    _GUILLEMETS,
)
# A colon and the quoted text it introduces, in a masked request (the quote marks kept, the words masked as 0s).
_QUOTE_AFTER_COLON = re.compile(r":\s*`?[\"\u201c\u2018\u00ab']\s*0{3,}")
# A quote opening right there (a backtick around it, as in code: `"..."`).
_QUOTE_NEXT = re.compile(r"`?[\"\u201c\u2018\u00ab']")
# Where a test's outcome line ends: its last stop, a line break or the end of the request.
_OUTCOME_END = re.compile(r"[.!?](?=\s|$)|\n|$")
# A quoted JSON key and the start of its value ('{"s1": "...", "s2": "..."}'), after "{" or ",".
_JSON_KEY = re.compile(r"[A-Za-z_][\w.-]{0,30}$")
_JSON_VALUE = re.compile(r"\s*:\s*[\"'\u201c{\[\d-]")
# "Summarize this: <text>" - a literal after a colon, up to the end of the line.
_COLON_LITERAL = re.compile(r"(?<=[\w\"'\u201d\u2019]):[ \t]+(?=\S)([^\n]{8,})")


def _quote_patterns() -> tuple[re.Pattern[str], ...]:
    """Quotes by their marks (single quotes first: the lexicon's, which knows the elisions that open no quote, "'bout",
    "'em"), then quotes said in words, as dictated ("it says quote ... unquote")."""
    return (_rx("single_quote"), *_QUOTES, _rx("spoken_quote"))


def _rx(key: str) -> re.Pattern[str]:
    """A pattern of the lexicon's ``parsing`` section (English wording lives in ``lexicon.yaml``)."""
    return pattern("parsing", key)


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

    @property
    def end(self) -> int:
        """Where the name ends in the request."""
        return self.start + len(self.name)


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


class _Masker:
    """Masks the files, URLs and quotes of a request, one after another, never two over the same characters."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.masked = list(text)
        self.taken: list[tuple[int, int]] = []
        self.resources: list[Resource] = []
        self.quotes: list[Span] = []

    def free(self, a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in self.taken)

    def mask(self, a: int, b: int) -> None:
        # Spaces are masked too: a quote or file counts as one word for the patterns ("read '...' aloud").
        for i in range(a, b):
            self.masked[i] = "0"
        self.taken.append((a, b))

    def files(self) -> None:
        text = self.text
        for rx in (_URL, _PATH):
            for m in rx.finditer(text):
                name = m.group(0).rstrip(".,;:!?)")
                a, b = m.start(), m.start() + len(name)
                media = media_of_resource(name) if not is_url(name) else (media_of_name(name) or "image")
                if media is None or not self.free(a, b):
                    continue
                is_out = bool(_rx("save_as").search(text[max(0, a - 40) : a]))
                self.resources.append(Resource(name=name, media=media, start=a, output=is_out))
                self.mask(a, b)

    def blank(self, a: int, b: int) -> None:
        for i in range(a, b):
            self.masked[i] = " "
        self.taken.append((a, b))

    def outcomes(self) -> None:
        """"2. Capture the reply. Expected: a polite reply. Actual: pending.": a test's expected or actual outcome
        asks for nothing and holds no text of the user's; it is blanked (its last stop kept, so sentences still end)."""
        for m in _rx("outcome_line").finditer(self.text):
            end = _OUTCOME_END.search(self.text, m.end())
            b = end.start() if end else m.end()
            if b > m.start() and self.free(m.start(), b):
                self.blank(m.start(), b)

    def definitions(self) -> None:
        """"from claim.png (hereinafter the "Form"), the policy number": a term defined in brackets names what it
        follows and asks for nothing; it is blanked, its quote with it, unless it holds a file."""
        for m in _rx("definition").finditer(self.text):
            if self.free(m.start(), m.end()):
                self.blank(m.start(), m.end())

    def asides(self) -> None:
        """"[Reads the paper aloud, trembling] A critic writes: '...' Praise or damnation?": an aside in square
        brackets, with no file or quote in it, asks for nothing (a stage direction); it is blanked."""
        for m in _rx("bracketed").finditer(self.text):
            if self.free(m.start(), m.end()):
                self.blank(m.start(), m.end())

    def quoted(self) -> None:
        # a single-quoted word inside a double-quoted text is part of it ("... said 'optimization' and gave us ...")
        found = [list(rx.finditer(self.text)) for rx in _quote_patterns()]  # single quotes first, spoken last
        double = [m.span() for matches in found[1:-1] for m in matches]
        for i, matches in enumerate(found):
            for m in matches:
                a, b = m.start(1), m.end(1)
                if i == 0 and any(x < m.start() and m.end() < y for x, y in double):
                    continue
                if not self.free(m.start(), m.end()) and (a, b) not in self.taken:
                    continue
                if any(r.start == a for r in self.resources):
                    continue  # a quoted file name: already a resource
                if (_rx("quoted_term").match(m.group(1).strip())
                        and _rx("term_article").search(self.text, max(0, m.start() - 12), m.start())):
                    continue  # "he needs a 'depth map' of the photo": a term quoted, read as the words it is
                if (_JSON_KEY.match(m.group(1)) and _JSON_VALUE.match(self.text, m.end())
                        and self.text[max(0, m.start() - 40) : m.start()].rstrip().endswith(("{", ","))):
                    continue  # '{"s1": "Reset your password ..."}': a key names the text that follows, it is none
                self.quotes.append(Span(a, b, m.group(1).strip()))
                self.mask(a, b)

    def after_colons(self) -> None:
        for m in _COLON_LITERAL.finditer(self.text):
            if _rx("question_colon").search(self.text, 0, m.start()):
                continue  # "answer: which quarter...?", "Question: when...?": a question, routed as one
            if _rx("colon_step").match(m.group(1)):
                continue  # "I'd like a poster: generate an image of ...": a step, not the user's text
            if _rx("command_colon").search(self.text, max(0, m.start() - 20), m.start()):
                continue  # "text=...; need: embedding vector": a field that names the task, as in a command
            if _rx("things_colon").search(self.text, 0, m.start()):
                continue  # "need 2 things for the sale: a poster pic of ..., and a video of ...": what to make
            a, b = m.start(1), m.end(1)
            stop = _rx("colon_stop").search(self.text, a, b)  # "Context: <text> Question: <question>"
            b = stop.start() if stop else b
            words = len(m.group(1).split())
            # Three words or more anywhere; two when they end the request ("the sentiment of: great product").
            # "for pano.jpg: caption, detect objects": after a file name the colon lists tasks, not a text.
            after_file = self.masked[m.start() - 1] == "0"
            if self.free(a, b) and not after_file and (words >= 3 or (words == 2 and not self.text[b:].strip())):
                self.quotes.append(Span(a, b, self.text[a:b].strip()))
                self.mask(a, b)


    def pasted(self) -> None:
        """"<an article pasted first>. Summarize this.": prose before a last sentence that points back at it is the
        user's text, as if quoted. Only without other quotes, and only for third-person prose of 12 words or more
        with no file in it (a request's own preamble says "I", "my", "please")."""
        if self.quotes:
            return
        ends = [m.end() for m in re.finditer(r"[.!?](?=\s+\S)", self.text)]
        if not ends:
            return
        if self._pasted_after(ends[0]):
            return
        a, b = 0, ends[-1]
        body, last = self.text[a:b], self.text[b:]
        if (len(body.split()) >= 12 and _rx("pasted_reference").search(last) and not _rx("pasted_personal").search(body)
                and self.free(a, b)):
            start = len(body) - len(body.lstrip())
            self.quotes.append(Span(a + start, b, body.strip()))
            self.mask(a + start, b)


    def _pasted_after(self, end: int) -> bool:
        """"Can you make a resume of this text for me? The patient, 67 years, ...": prose after a first sentence that
        points ahead at it is the user's text, by the same tests as prose pasted first, and when no sentence of it
        opens with an action verb (then it asks for a next step)."""
        head, body = self.text[:end], self.text[end:]
        if not (_rx("pasted_ahead").search(head) and self.free(0, len(self.text))):
            return False
        if len(body.split()) < 12 or _rx("pasted_personal").search(body) or _rx("pasted_asks").search(body.strip()):
            return False
        a = end + len(body) - len(body.lstrip())
        self.quotes.append(Span(a, len(self.text), body.strip()))
        self.mask(a, len(self.text))
        return True


def _masked(text: str) -> _Masker:
    """``text`` with its files, quotes and texts after a colon masked (what ``parse_request`` reads first)."""
    masker = _Masker(text)
    masker.files()
    masker.outcomes()
    masker.definitions()
    masker.quoted()
    masker.asides()
    masker.after_colons()
    return masker


def literal_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` names files or quotes the user's own words, as offsets: what ``parse_request`` masks (pasted
    prose included), and every quote even where it holds a file name ("the text is: 'Thiz is ... www.x.com/a.jpg'")."""
    masker = _masked(text)
    masker.pasted()
    quotes = [(m.start(1), m.end(1)) for rx in _quote_patterns() for m in rx.finditer(text)]
    return sorted(masker.taken + quotes)


_SPOKEN = {"comma": ",", "question": "?", "exclamation": "!", "period": ".", "full": "."}


def spoken_punctuation(text: str) -> str:
    """A dictated request's spoken marks as punctuation ("photo.jpg comma and I want ..." -> "photo.jpg, and I want
    ..."; the lexicon's ``parsing.spoken_mark`` and ``spoken_period``). Only a request with a spoken comma, question
    or exclamation mark counts as dictated: "period" alone is a word ("a period drama")."""
    if not _rx("spoken_mark").search(text):
        return text

    def mark(m: re.Match[str]) -> str:
        return _SPOKEN[m.group(0).split()[0].lower()]

    return _rx("spoken_period").sub(mark, _rx("spoken_mark").sub(mark, text))


def slash_breaks(text: str) -> str:
    """"write me a short poem / about the last ferry / then read it aloud": a slash between spaces, outside quotes
    and file names, breaks the request like a comma (line breaks written as slashes; pattern ``parsing.slash_break``).
    """
    breaks = list(_rx("slash_break").finditer(text))
    if not breaks:
        return text  # (most requests: no second masking pass)
    spans = literal_spans(text)
    out, last = [], 0
    for m in breaks:
        if any(a <= m.start() < b for a, b in spans) or _rx("slash_signoff").match(text, m.end()):
            continue  # (a slash before a last "thx" is left as it is)
        out.append(text[last : m.start()] + ", ")
        last = m.end()
    return "".join(out) + text[last:]


def with_arrow_chains(text: str) -> str:
    """"a.jpg -> caption -> speech": each arrow between steps reads as ", then" (the lexicon's ``parsing.arrow``);
    so does each numbered step after the first ("1) segment x.jpg 2) use it to generate ...", "Step 2: ..."), when
    the steps are numbered 1, 2, 3 ... in order (``parsing.step_number``)."""
    quoted = [m.span() for m in _GUILLEMETS.finditer(text)]  # a closing guillemet is no arrow
    step_start = 0  # where the step before the current arrow begins (arrows are replaced in order)

    def arrow(m: re.Match[str]) -> str:
        nonlocal step_start
        step, step_start = text[step_start : m.start()], m.end()
        if any(a <= m.start() < b for a, b in quoted):
            return m.group(0)
        # "translate this string to Japanese -> `"..."`": the quote after the arrow is what "this" names, no step
        return ": " if _QUOTE_NEXT.match(text, m.end()) and _rx("names_next").search(step) else ", then "

    text = _rx("arrow").sub(arrow, text)
    marks = list(_rx("step_number").finditer(text))
    words = default_lexicon().words("parsing", "step_words")
    roman = default_lexicon().words("parsing", "roman_numerals")
    numbers = [int(m.group(1)) if m.group(1) else words.index(m.group(2).lower()) + 1 if m.group(2)
               else roman.index(m.group(3).lower()) + 1 for m in marks]
    if len(marks) < 2 or numbers != list(range(1, len(marks) + 1)):
        return text
    if any(re.match(r"\w+\s*:", text[m.end() :]) for m in marks):
        return text  # labelled parts ("1. Context: ... 2. Question: ..."), not steps
    out, last = [], 0
    for n, m in zip(numbers, marks, strict=True):
        out.append(text[last : m.start()].rstrip(" ,;."))
        out.append((", then " if n != 1 else " ") if out[-1].strip() else "")
        last = m.end()
    return ("".join(out) + text[last:]).strip()


def parse_request(text: str, connective_verbs: list[str]) -> ParsedRequest:
    """Parse ``text``; ``connective_verbs`` are action verbs after which ", and <verb>" starts a new clause."""
    masker = _masked(text)
    masker.pasted()
    quotes = sorted(masker.quotes, key=lambda q: q.start)
    resources = _corrected(text, sorted(masker.resources, key=lambda r: r.start))
    masked_text = "".join(masker.masked)
    sentences = _sentences(text, masked_text)
    clauses = _clauses(masked_text, sentences, connective_verbs)
    return ParsedRequest(
        text=text, masked=masked_text, quotes=quotes, resources=resources, sentences=sentences, clauses=clauses
    )


def _corrected(text: str, resources: list[Resource]) -> list[Resource]:
    """Drop a file the user takes back in favour of the next one ("c57.jpeg, or maybe c57.png, no, it's c57.jpg":
    only c57.jpg); the name stays masked, so it is read as no words."""
    out: list[Resource] = []
    for i, r in enumerate(resources):
        nxt = resources[i + 1] if i + 1 < len(resources) else None
        if nxt is not None and nxt.media == r.media and not r.output:
            between = text[r.end : nxt.start]
            same_name = r.name.rsplit(".", 1)[0] == nxt.name.rsplit(".", 1)[0]
            if len(between) <= 80 and (_rx("file_correction").match(between)  # a taking back is a few words
                                       or (same_name and _rx("file_alternative").match(between))):
                continue
        out.append(r)
    return out


def _sentences(text: str, masked: str) -> list[Span]:
    out: list[Span] = []
    start = 0
    # (a bullet of a list written on one line starts a sentence: "... the following: • transcribe ...; • identify ...";
    # so does a fragment after a spaced slash: "quick q / from our guidelines: '...' / q: what colour are ... / thx")
    for m in re.finditer(r"[.!?]+(?=\s|$)|\n+|\s+(?=[\u2022\u25e6\u25aa\u2023]\s)|\s+/(?=\s)", masked):
        end = m.end()
        stop = m.start() if m.group().strip() == "/" else end  # the slash belongs to no sentence
        if text[start:stop].strip():
            out.append(_trimmed(text, start, stop))
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
    boundary = _boundary_rx(tuple(verbs))
    chain_start, filler = _rx("chain_start"), _rx("filler")
    out: list[Clause] = []
    for s in sentences:
        cuts = (
            [s.start] + [m.start() for m in boundary.finditer(masked, s.start, s.end) if m.start() > s.start] + [s.end]
        )
        cuts = sorted(set(cuts))
        for a, b in itertools.pairwise(cuts):
            if not filler.sub("", masked[a:b]).strip(" ,;"):
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


@lru_cache(maxsize=8)
def _boundary_rx(verbs: tuple[str, ...]) -> re.Pattern[str]:
    """Where a clause ends, for a list of connective verbs (the lexicon's ``parsing.clause_boundary``)."""
    return re.compile(source("parsing", "clause_boundary").replace("<VERBS>", words_alt(verbs) or "(?!)"), re.I)


def extract_question(sentence: Span, masked_sentence: str, about_file: bool = False) -> str | None:
    """The question a sentence asks, without politeness ("could you tell me how many cats..."), or None.

    The question may start the sentence or follow a comma or colon ("Given a.jpg, please tell me how many...").
    Without a question mark it must ask politely, or (``about_file``: the sentence names a file) start with a
    question word and its verb ("what am i holding in selfie.jpg").
    """
    lead = re.match(r"^\s*(?:['\"\u201c\u2018]?0+['\"\u201d\u2019]?[\s.:,;-]*)+", masked_sentence)
    offset = lead.end() if lead else 0
    asked = sentence.text.rstrip().endswith("?") or _asks_about_file(about_file, sentence.text.strip())
    splits = [*_rx("question_split").finditer(masked_sentence), *_rx("file_then_question").finditer(masked_sentence)]
    # "it says "<passage>" so when do I take the blue one": a question right after a quoted passage asks about it
    passage = {m.end() for m in _rx("quote_then_question").finditer(masked_sentence)}
    starts = [offset, *sorted({m.end() for m in splits if m.end() > offset} | {p for p in passage if p > offset})]
    for m in _rx("file_then_yes_no").finditer(masked_sentence):
        # "pic of tractor.jpg is the back tyre flat or ok pls": one clause to the end, asked or offering a choice
        rest = _rx("question_trail").sub("", masked_sentence[m.end() :])
        if not _rx("question_split").search(rest.rstrip(" ?.!")) and (
                rest.rstrip().endswith("?") or _rx("yes_no_choice").match(rest)):
            return _question_at(sentence.text[m.end() : m.end() + len(rest)].strip(), True)
    if lead and not re.search(r"[.:,;-]\s*$", lead.group()) and _rx("file_statement").match(masked_sentence, offset):
        starts = starts[1:]  # "scan.png is a lab report, whats the potassium value?": the file is a statement's subject
    for start in starts:
        # "the load sheet x.jpg whats the total": asked of the file named; "tell me on which date ...: '<passage>'":
        # the question ends where the quoted passage begins
        quote = _QUOTE_AFTER_COLON.search(masked_sentence, start)
        part = sentence.text[start : quote.start() if quote else None].strip()
        before = sentence.text[:start].rstrip()
        if before.endswith(":") and _rx("question_colon").search(before[:-1]) and (
                part.endswith("?") or _rx("wh_start").match(part)):
            # "q: max operating temp?": labelled a question, in any words
            return part[0].upper() + part[1:] + ("" if part.endswith("?") else "?")
        if start > offset and not asked and (before.endswith(",") or masked_sentence[:start].rstrip().endswith("0")) \
                and _rx("relative_clause").match(part):
            continue  # "... for the client, who does not read English.", "PFA call.wav which is the recording ...": a
            # relative clause asks nothing
        # "x.jpg whats the total": words after the file (or after a split) that ask about it, with no question mark
        question = _question_at(part, asked or ((start > offset or lead is not None)
                                                and _asks_about_file(about_file or start in passage, part)))
        if question:
            return _reported(sentence.text, question)
    return None


def _reported(sentence: str, question: str) -> str:
    """"A tourist asks me which wine is for fish, what I answer?": a question about what to answer someone is that
    someone's question, when the sentence reports it."""
    if not _rx("meta_question").match(question):
        return question
    return reported_question(sentence) or question


def reported_question(sentence: str) -> str | None:
    """The question a sentence reports someone asking ("a tourist asks me which wine is for fish"), or None."""
    m = _rx("reported_question").search(sentence)
    if m is None:
        return None
    body = m.group("q").rstrip(" .!")
    return as_question(_verb_first(body) or body)  # "what colour the car is" -> "What colour is the car?"


def _verb_first(body: str) -> str | None:
    """An embedded wh-question in question order ("what color the car is" -> "what color is the car"), or None."""
    wh = _rx("embedded").match(body)
    return " ".join(w for w in (wh[1], wh[3], wh[2], wh[4], wh[5]) if w) if wh else None


def as_question(body: str) -> str:
    """``body`` written as a question: a capital first, a question mark last."""
    return body[0].upper() + body[1:] + "?"


def clause_question(req: ParsedRequest, clause: Clause, asked: bool) -> str | None:
    """The question a clause asks in words of its own ("then tell me if there's a dog in it"), or None; the clause
    must ask it politely ("tell me", "I wonder") or end its sentence with a question mark (``asked``)."""
    text = req.text[clause.start : clause.end]
    lead = _rx("chain_start").match(text) or _rx("clause_join").match(text)
    part = text[lead.end() if lead else 0 :].strip().lstrip(",;:").strip()  # "...receipt.png: what is the total?"
    if not part:
        return None
    if _rx("statement_order").match(part):
        return None  # "... and how it can improve well-being": what to write about, not a question
    names_file = bool(req.resources_in(clause.start, clause.end))
    asks_file = _asks_about_file(names_file, part)
    after_file = _rx("file_then_question").search(req.masked, clause.start, clause.end)
    if names_file and after_file and not (_rx("polite").match(part) or asked or asks_file):
        part = req.text[after_file.end() : clause.end].strip()  # "the load sheet x.jpg whats the total weight"
        asks_file = _asks_about_file(True, part)
    return _question_at(part, asked or asks_file) if _rx("polite").match(part) or asked or asks_file else None


def _asks_about_file(names_file: bool, text: str) -> bool:
    """"what animal is in mypet.jpg", "what am i holding in x.jpg": words that name a file and start with a question
    word and its verb ask, even without a question mark."""
    return names_file and _rx("wh_start").match(text) is not None


def _question_at(part: str, asked: bool) -> str | None:
    m = _rx("polite").match(part)
    body = part[m.end() :] if m else _rx("question_filler").sub("", part)
    if not m:
        if _rx("request_start").match(part):
            return None  # "Can you describe this photo?" asks for a task, not a question about content
        first = re.match(r"[A-Za-z']+", _rx("question_preposition").sub("", body, count=1))
        if not asked or not first or first.group(0).lower() not in _question_start():
            # "..., the bed is made or not?": a yes/no question in statement order, put back in question order
            yes_no = (_rx("embedded_yes_no").match(body.rstrip(" ?"))
                      if asked and (_rx("or_not").search(body) or _rx("statement_yes_no").match(body)) else None)
            return f"{yes_no[2].capitalize()} {yes_no[1]} {yes_no[3]}?" if yes_no else None
    body = _rx("question_tail").sub("", body.rstrip(" .!?"))
    if not body or _rx("empty_question").match(body) or _rx("asks_assistant").match(body):
        return None  # "could you check it for me?": the task asked for is the question
    if m:  # embedded question ("tell me what color the car is"): put the verb back in front
        body = _rx("contraction").sub(lambda c: f"{c[1]} is", body)  # "if there's a dog" -> "if there is a dog"
        reordered = _verb_first(body)
        if reordered:
            body = reordered
        elif (first := re.match(r"[A-Za-z']+", body)) and first.group(0).lower() not in _question_start():
            # a yes/no one ("do you think the stove is on"): "Is the stove on"
            yes_no = _rx("embedded_yes_no").match(body)
            if yes_no:
                body = _yes_no_order(yes_no)
            elif first.group(0).lower() == "the":  # "tell me the date of the announcement": what that is
                return field_question(body[4:])
    return as_question(body)



def _yes_no_order(m: re.Match[str]) -> str:
    """An embedded yes/no question put back in question order ("the stove is on" -> "is the stove on")."""
    return f"{m[2]} {m[1]} {m[3]}"


def field_question(field: str) -> str:
    """The question that asks for a field ("the customer name" -> "What is the customer name?")."""
    return str(default_lexicon().raw["questions"]["field_question"]).format(field=field)


@lru_cache(maxsize=1)
def _question_start() -> frozenset[str]:
    return frozenset(default_lexicon().words("parsing", "question_start"))


def named_quotes(req: ParsedRequest) -> set[int]:
    """Starts of the quotes that only name something before the text after a colon ("cover art for my EP
    'Neon Tides': synthwave sunset"): the colon's text is the content, the quote a title."""
    out = set()
    for q in req.quotes:
        after = req.text[q.end : q.end + 3]
        if _rx("name_lead").search(req.text, 0, q.start) and re.match(r"['\"\u201d\u2019]?\s*:", after):
            out.add(q.start)
    return out
