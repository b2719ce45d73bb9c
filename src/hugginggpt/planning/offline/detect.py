"""Task detection: which tasks a request asks for, and where in the request each is asked.

``TaskDetector`` is the swappable step of the offline planner. It is built from the tool list (names,
descriptions, input and output types) and answers, for a parsed request, a list of ``Detection``s in order of
mention. ``KeywordDetector`` is the rule-based default (a YAML keyword lexicon plus question routing); a learned
detector only has to honour the same protocol.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ...tasks import TaskRegistry
from .given_maps import (
    edits_of_maps,
    given_maps,
    map_only,
    maps_not_edits,
    names_only_a_map,
    referred_maps,
    shared_prompt,
)
from .lexicon import Lexicon, default_lexicon, expand, pattern, words_rx
from .literals import captured_text, guided_prompt, listed_labels
from .phrases import (
    coordinated,
    described_before,
    described_end,
    elliptical,
    foreign_into_english,
    named_first,
    named_last,
    similar_to_image,
    styled,
)
from .questions import QuestionRules
from .text import Clause, ParsedRequest
from .types import Available, Detection, ToolInfo

log = logging.getLogger(__name__)
# Lexicon and default_lexicon are re-exported: callers import them from here.
__all__ = ["CONTROLLED", "Available", "Detection", "KeywordDetector", "Lexicon", "TaskDetector", "ToolInfo",
           "default_lexicon", "tools_from_registry"]


def tools_from_registry(registry: TaskRegistry) -> list[ToolInfo]:
    """The tool list of a task registry, in registry order."""
    return [
        ToolInfo(t.name, t.description, tuple((s.name, s.type) for s in t.inputs), tuple(t.outputs)) for t in registry
    ]


class TaskDetector(Protocol):
    """Finds the tasks a request asks for. Implementations take the tool list in their constructor."""

    def detect(self, request: ParsedRequest, available: Available) -> list[Detection]: ...


@dataclass(frozen=True)
class _Trigger:
    task: str
    rx: re.Pattern[str]
    weak: bool
    capture: bool
    labels: bool
    rank: int  # lexicon order: earlier tasks win ties
    generic: bool = False  # incidental wording ("the objects in it"): yields to any other task on the same medium
    text_only: bool = False  # a text task's wording that means something else next to a file ("is this photo ...")
    no_file: bool = False  # wording that means another task when the clause names a file ("turn x.jpg into")
    no_document: bool = False  # wording that is a question when the request is about a document ("how many bedrooms")
    needs_file: bool = False  # wording that asks only with a file at hand ("the restored photograph" in a thank-you)
    needs_input: bool = False  # a question that asks only with a quote or file at hand ("is he coming or going?")


_Hit = tuple[_Trigger, re.Match[str]]

# Generation guided by a condition map extracted from an image ("a robot in the same pose as man.jpg").
CONTROLLED = {
    "openpose-control": "openpose-text-to-image",
    "canny-control": "canny-text-to-image",
    "depth-estimation": "depth-text-to-image",
    "hed-control": "hed-text-to-image",
    "mlsd-control": "mlsd-text-to-image",
    "normal-control": "normal-text-to-image",
    "image-segmentation": "seg-text-to-image",
}
# The annotators whose output is only a condition map (a segmentation also cuts a subject out: a picture to work on).
MAP_ONLY = frozenset(CONTROLLED) - {"image-segmentation"}


class KeywordDetector(QuestionRules):
    """Rule-based detector: lexicon triggers, media checks, overlap resolution and question routing."""

    def __init__(self, tools: Sequence[ToolInfo], lexicon: Lexicon | None = None) -> None:
        self.tools = {t.name: t for t in tools}
        self.lexicon = lexicon or default_lexicon()
        self._triggers = list(self._compile())
        nouns = self.lexicon.media_nouns()
        self._media_rx = {m: words_rx(ws) for m, ws in nouns.items() if ws}
        self._doc_rx = words_rx(self.lexicon.raw.get("document_nouns", []))
        self._question_rx = [re.compile(q, re.I) for q in self.lexicon.raw.get("question_triggers", [])]
        self._pronoun_rx = re.compile(self.lexicon.raw["pronoun"], re.I)
        # what the last request's text was found to hold, read once per request (a detection asks per trigger
        # match); kept with the request it is about, compared by identity, so another thread's request never mixes in
        self._memo: tuple[ParsedRequest, dict[object, Any]] | None = None

    def _compile(self) -> Iterable[_Trigger]:
        spec = self.lexicon.raw.get("tasks", {})
        for rank, (name, tool) in enumerate(self.tools.items()):
            entries = list(spec.get(name, {}).get("triggers") or [])
            if not entries:
                log.debug("no lexicon entry for tool %s: matching its name only", name)
            # Every tool is found when the request names it ("using the Object Detection tool").
            entries.append(r"\b" + r"[- ]".join(map(re.escape, re.split(r"[- _]+", tool.name.lower()))) + r"\b")
            for e in entries:
                e = {"re": e} if isinstance(e, str) else e
                yield _Trigger(
                    name,
                    re.compile(expand(e["re"], self.lexicon), re.I),
                    bool(e.get("weak")),
                    bool(e.get("capture")),
                    bool(e.get("labels")),
                    rank,
                    bool(e.get("generic")),
                    bool(e.get("text_only")),
                    bool(e.get("no_file")),
                    bool(e.get("no_document")),
                    bool(e.get("needs_file")),
                    bool(e.get("needs_input")),
                )

    # -- media evidence -------------------------------------------------------------------------------------
    def media_in(self, req: ParsedRequest, start: int, end: int) -> set[str]:
        """Media the span names, by file or by noun ("the recording")."""
        found = {r.media for r in req.resources_in(start, end)}
        for media, rx in self._media_rx.items():
            if rx.search(req.masked, start, end):
                found.add(media)
        return found

    def has_pronoun(self, req: ParsedRequest, start: int, end: int) -> bool:
        """Whether the span refers back to something ("it", "this", "the result")."""
        return bool(self._pronoun_rx.search(req.masked, start, end))

    def mentions_document(self, req: ParsedRequest) -> bool:
        """Whether the request is about a document (invoice, receipt, form...) rather than a photo."""
        memo = self._memo_of(req)
        if "document" not in memo:
            memo["document"] = self._names_document(req, 0, len(req.text))
        found: bool = memo["document"]
        return found

    def _names_document(self, req: ParsedRequest, start: int, end: int) -> bool:
        """Whether the span names a document: a document noun, also inside a file name ("receipt.png",
        "ledger_page.png"), or words that name the file ("the table sales.png")."""
        return self.document_noun_in(req.text[start:end]) or bool(
            pattern("parsing", "document_by_file").search(req.masked, start, end))

    def document_noun_in(self, text: str) -> bool:
        """Whether ``text`` holds a document noun of the lexicon, also inside a file name ("ledger_page.png")."""
        return bool(self._doc_rx.search(text.replace("_", " ")))

    def _document_near(self, req: ParsedRequest, start: int, end: int) -> bool:
        """Whether the span names a document, or names no file at all ("how many bottles are in shelf.jpg" after
        "the stock table inventory.jpg" counts bottles: the document is another file)."""
        return not req.resources_in(start, end) or self._names_document(req, start, end)

    def _media_once(self, req: ParsedRequest, start: int, end: int) -> frozenset[str]:
        """``media_in``, read once per span of a request (each trigger match asks about its clause and the request)."""
        memo = self._memo_of(req)
        if (start, end) not in memo:
            memo[(start, end)] = frozenset(self.media_in(req, start, end))
        found: frozenset[str] = memo[(start, end)]
        return found

    def _about_an_idea(self, req: ParsedRequest, pos: int) -> bool:
        """Whether the sentence at ``pos`` asks about what a kind of result is (``parsing.concept_question``), read
        once per sentence of a request."""
        sentence = req.sentence_at(pos)
        memo = self._memo_of(req)
        key = ("concept", sentence.start)
        if key not in memo:
            memo[key] = bool(pattern("parsing", "concept_question").search(req.masked, sentence.start, sentence.end))
        found: bool = memo[key]
        return found

    def _memo_of(self, req: ParsedRequest) -> dict[object, Any]:
        """The findings kept for ``req`` (a fresh store when the last request was another one)."""
        memo = self._memo
        if memo is None or memo[0] is not req:
            memo = self._memo = (req, {})
        return memo[1]

    def _media_ok(self, t: _Trigger, m: re.Match[str], req: ParsedRequest, avail: Available) -> bool:
        """Whether the medium the trigger's task consumes fits what the request names and what exists."""
        at_hand = bool(req.resources or avail.user_media or avail.history_media)  # named, attached or made earlier
        if t.needs_input and not (at_hand or req.quotes):
            return False
        if t.text_only:
            return self._text_only_ok(t, m, req)
        return self._input_ok(t, m, req, at_hand) and self._medium_fits(t, m, req, avail)

    def _text_only_ok(self, t: _Trigger, m: re.Match[str], req: ParsedRequest) -> bool:
        """A text-only trigger: no medium other than text named in its own words, and no file there."""
        clause = req.clause_at(m.start())
        # labels listed after the trigger may be media words ("classify it as one of: crash, audio, gameplay")
        end = m.end() if t.labels else clause.end
        start = self._after_earlier_step(req, clause.start, m.start())
        files = {r.media for r in req.resources_in(start, clause.end)} - {"text"}
        return not (self._media_once(req, start, end) - {"text"}) and not files

    def _input_ok(self, t: _Trigger, m: re.Match[str], req: ParsedRequest, at_hand: bool) -> bool:
        """The trigger's flags about its input: a file it must (or must not) have, and no question about an idea
        or a document that only looks like a request."""
        clause = req.clause_at(m.start())
        if t.no_file and req.resources_in(clause.start, clause.end):
            return False
        if t.needs_file and not at_hand:
            return False
        if not (at_hand or req.quotes) and self._about_an_idea(req, m.start()):
            return False  # "what is the difference between a canny and a HED edge map?": about the idea
        # "how many bedrooms, according to the feature sheet sheet.png?": a question about the document
        return not (t.no_document and self.mentions_document(req)
                    and self._document_near(req, clause.start, clause.end))

    def _medium_fits(self, t: _Trigger, m: re.Match[str], req: ParsedRequest, avail: Available) -> bool:
        """The media words of the trigger's clause point at the medium its task needs (a weak trigger also finds
        that medium in the request, attached, or, through a pronoun, made earlier)."""
        needed = self.tools[t.task].input_media
        if not needed:
            return True
        clause = req.clause_at(m.start())
        in_clause = self._media_once(req, clause.start, clause.end) - {"text"}
        if in_clause and not in_clause & needed:
            return False  # "transcribe the video": the words point at another medium
        if not t.weak:
            return True
        if in_clause & needed or self._media_once(req, 0, len(req.text)) & needed or avail.user_media & needed:
            return True
        refers = self.has_pronoun(req, clause.start, clause.end)
        return bool(refers and avail.history_media & needed)

    @staticmethod
    def _after_earlier_step(req: ParsedRequest, start: int, pos: int) -> int:
        """Where a text task's own words begin in its clause: after the last file before ``pos`` when "and" or
        "then" joins another step between them ("memo.m4a, can you write it down and pick out the names": the
        names are picked from the transcript, not from the recording), else the clause's start."""
        files = [r for r in req.resources_in(start, pos) if r.media != "text"]
        if not files:
            return start
        last = max(r.end for r in files)
        joined = pattern("parsing", "step_join").search(req.masked, last, pos)
        return joined.end() if joined else start

    # -- detection ------------------------------------------------------------------------------------------
    def detect(self, request: ParsedRequest, available: Available) -> list[Detection]:
        """Tasks the request asks for, in order of mention."""
        kept = self._drop_generic(request, self._resolve(request, available, self._matches(request)))
        out, captured = self._mentions(request, kept)
        out, captured = coordinated(request, out, captured, self.tools)
        out, captured = elliptical(request, out, captured, self.tools)
        out = styled(request, self._drop_described(request, out, captured, maps=_image_at_hand(request, available)))
        out = foreign_into_english(request, out)
        out = similar_to_image(request, named_first(request, named_last(request, out, self.tools), self.tools))
        out = self._questions(request, available, out)
        out = self._controlled(request, self._guided_steps(request, out))
        out = edits_of_maps(request, maps_not_edits(request, out, CONTROLLED), CONTROLLED, set(self.tools))
        out = map_only(given_maps(request, out, CONTROLLED, set(self.tools)))
        out = referred_maps(request, out, CONTROLLED,  # (an attached picture would be taken before the earlier one)
                            "image" in available.history_media and "image" not in available.user_media)
        out = _described_next(request, shared_prompt(request, out, CONTROLLED, set(self.tools)))
        return sorted(_counted_again(out), key=lambda d: d.start)

    def _matches(self, request: ParsedRequest) -> list[_Hit]:
        """Rule 1: every non-empty match of every trigger."""
        return [(t, m) for t in self._triggers for m in t.rx.finditer(request.masked) if m.end() > m.start()]

    def _resolve(self, request: ParsedRequest, available: Available, hits: list[_Hit]) -> list[_Hit]:
        """Rule 2: of overlapping matches the longest wins, then strong before weak, then lexicon order; a match
        whose task's input medium is nowhere to be found is dropped."""
        kept: list[_Hit] = []
        waiting: list[_Hit] = []
        for t, m in sorted(hits, key=lambda h: (-(h[1].end() - h[1].start()), h[0].weak, h[0].rank, h[1].start())):
            if any(m.start() < k.end() and k.start() < m.end() for _, k in kept):
                continue
            if self._media_ok(t, m, request, available):
                kept.append((t, m))
            elif t.weak:
                waiting.append((t, m))
        # "render a bike, then describe the render": a weak match whose medium an earlier task of the request makes.
        for t, m in sorted(waiting, key=lambda h: h[1].start()):
            made = self._made_before(kept, m.start())
            if made and not any(m.start() < k.end() and k.start() < m.end() for _, k in kept) and self._media_ok(
                t, m, request, replace(available, user_media=available.user_media | made)
            ):
                kept.append((t, m))
        return sorted(kept, key=lambda h: h[1].start())

    def _made_before(self, kept: list[_Hit], pos: int) -> frozenset[str]:
        """Media the kept matches before ``pos`` make."""
        return frozenset(o for t, m in kept if m.start() < pos for o in self.tools[t.task].outputs if o != "text")

    def _mentions(self, request: ParsedRequest, kept: list[_Hit]) -> tuple[list[Detection], list[bool]]:
        """Rule 3: one detection per task, with its captured text or labels; a second mention refers back."""
        out: list[Detection] = []
        captured: list[bool] = []
        seen: dict[str, int] = {}  # task -> index in out of its first mention
        for t, m in kept:
            replaces = self._repeated(request, t, m, out, seen)
            if replaces == -1:
                continue
            det = self._detection(request, t, m)
            if det is None:
                continue
            if replaces is not None:
                out[replaces], captured[replaces] = det, t.capture
                continue
            seen[t.task] = len(out)
            out.append(det)
            captured.append(t.capture)
        return out, captured

    def _repeated(self, request: ParsedRequest, t: _Trigger, m: re.Match[str], out: list[Detection],
                  seen: dict[str, int]) -> int | None:
        """For a task already detected: -1 to skip this mention, the index of the first to replace, else None.

        A second mention ("the caption") refers back to the same task, unless only the second one comes with
        its text ("I want a poster ... generate an image of 'Stay positive'") or follows the first's clause after a
        colon ("I'd like a picture for a poster: generate an image of the water cycle"); each with a quote of its
        own in clauses of their own are two tasks.
        """
        clause = request.clause_at(m.start())
        own_file = request.resources_in(clause.start, clause.end) and self.tools[t.task].input_media
        if t.task not in seen or own_file:
            return None
        first_clause = request.clause_at(out[seen[t.task]].start)
        if clause.index == first_clause.index + 1 and ":" in request.text[first_clause.end - 1 : clause.start + 1]:
            return seen[t.task]  # "I'd like a picture for a poster: generate an image of X": the step says what
        if all(m != "text" for _, m in self.tools[t.task].inputs):
            return -1  # "outcrop.jpg -> depth map -> ... with the same depth layout": no text to take from a quote
        first_quoted = request.quotes_in(first_clause.start, first_clause.end)
        own_quoted = request.quotes_in(clause.start, clause.end)
        if first_quoted and own_quoted and clause.index != first_clause.index:
            return None  # "generate 'a barn table' ... then, using that depth map, generate 'the same on a beach'"
        if t.capture and clause.index != first_clause.index and self._new_thing(request, m, clause.end):
            return None  # "draw a dog, then draw a cat": a new thing described in a clause of its own
        if self._new_source(out, seen[t.task], m.start(), t.task) and self.has_pronoun(request, clause.start,
                                                                                         clause.end):
            return None  # "describe a.jpg and read it aloud; describe b.jpg and read it aloud": "it" is the new one
        shared = (clause.index == first_clause.index + 1 and out[seen[t.task]].capture is None
                  and all(q.end <= m.start() for q in own_quoted))
        if first_quoted or not own_quoted or shared:
            # (the quotes right after the first mention's clause, before the second, are the first one's too: "are
            # they saying the same thing? A: '...' B: '...' Need a similarity read")
            return -1
        return seen[t.task]

    @staticmethod
    def _new_thing(request: ParsedRequest, m: re.Match[str], end: int) -> bool:
        """Whether the words a trigger captures describe a new thing ("a cat", "one picture of a cat"), not the
        one made before ("the image", "it")."""
        capture = captured_text(request, m.end(), end)
        return capture is not None and pattern("generation", "new_thing").match(capture) is not None

    def _new_source(self, out: list[Detection], first: int, pos: int, task: str) -> bool:
        """Whether another task that makes what ``task`` reads was asked for after its first mention (``out[first]``)
        and before ``pos``."""
        reads = {m for _, m in self.tools[task].inputs}
        return any(out[first].start < d.start < pos and d.task != task and reads & set(self.tools[d.task].outputs)
                   for d in out if d.task in self.tools)

    @staticmethod
    def _detection(request: ParsedRequest, t: _Trigger, m: re.Match[str]) -> Detection | None:
        """The detection of one match, with the text or labels it captures (None: labels asked for, none given)."""
        clause = request.clause_at(m.start())
        det = Detection(t.task, m.start(), m.end())
        if t.capture:
            capture = captured_text(request, m.end(), clause.end) or described_before(m.group(), t.task)
            if capture and request.quotes_in(clause.end, len(request.text)) \
                    and pattern("literals", "names_a_text").match(capture):
                capture = None  # "translate my recipe card for the staff? « ... »": the quote after is the text
            kind = pattern("generation", "kind_tail").search(m.group()) if capture else None
            if kind and t.task == "text-to-image":
                capture = f"{kind.group('kind')} {capture}"  # "draw me a logo for my bakery": a logo, of the bakery
            det = replace(det, capture=capture)
        if t.labels:
            det = replace(det, labels=listed_labels(request, m.end(), clause.end))
            if not det.labels:
                return None
        return det

    def _drop_described(self, request: ParsedRequest, out: list[Detection], captured: list[bool],
                        maps: bool = True) -> list[Detection]:
        """Rule 4: words after "draw a picture of" describe the picture: they ask for no task of their own, up to
        a connective that another task follows ("a joke about cats but say it out loud"). A task there that reads
        a medium the words name makes the text instead ("say out loud what's in this pic"): it is kept, and the
        words are no longer the text."""
        regions: list[tuple[int, int]] = []
        kept = list(out)
        for i, (d, c) in enumerate(zip(out, captured, strict=True)):
            if not c:
                continue
            clause_end = request.clause_at(d.start).end
            end = described_end(request, d.end, clause_end, out)
            reader = self._reads_named_media(request, d, end, out)
            if reader is not None:  # the task follows the one that makes its text
                kept[i] = replace(d, capture=None, start=reader.start + 1, end=max(d.end, reader.start + 1))
                continue
            regions.append((d.end, end))
            # Cut a capture that ran to the clause end (a rule-composed one, as in a list, is already cut).
            if end < clause_end and d.capture and d.capture == captured_text(request, d.end, clause_end):
                kept[i] = replace(d, capture=captured_text(request, d.end, end))
        # a map word there guides the picture ("in the same pose as man.jpg") only when a picture is at hand to take
        # the map from; else it only describes ("a pic of a skeleton doing a kickflip")
        return [d for d in kept if (maps and d.task in CONTROLLED) or not any(a <= d.start < b for a, b in regions)]

    def _reads_named_media(self, request: ParsedRequest, d: Detection, end: int,
                           out: list[Detection]) -> Detection | None:
        """The task in a text-only task's described words that reads a medium the words name, if any."""
        if self.tools[d.task].input_media:
            return None
        for e in out:
            tool = self.tools.get(e.task)
            if tool is None or e.task in CONTROLLED or "text" not in tool.outputs:
                continue  # a condition map ("in the same pose as man.jpg") is no text
            if d.end <= e.start < end and tool.input_media & self.media_in(request, e.start, end):
                return e
        return None

    def _drop_generic(
        self, request: ParsedRequest, kept: list[_Hit]
    ) -> list[_Hit]:
        """Drop incidental matches when a specific task on the same medium (or one they exclude) is asked for."""
        specific = [(t, m) for t, m in kept if not t.generic]
        excluded = {x for t, _ in specific for x in self.lexicon.raw["tasks"].get(t.task, {}).get("excludes", [])}
        out = []
        for t, m in kept:
            media = self.tools[t.task].input_media
            if t.task in excluded and t.weak:
                continue
            sentence = request.sentence_at(m.start())
            if t.generic and any(
                s.task != t.task
                and self.tools[s.task].input_media & media
                and sentence.start <= sm.start() < sentence.end
                for s, sm in specific
            ):
                continue
            out.append((t, m))
        return out

    def _guided_steps(self, req: ParsedRequest, found: list[Detection]) -> list[Detection]:
        """"x.jpg -> openpose -> generate a ballerina": a chained step that asks to make something, right after a
        condition map and naming no task of its own, is generation guided by that map."""
        out = list(found)
        for ctrl in [d for d in found if d.task in CONTROLLED and CONTROLLED[d.task] in self.tools]:
            here = req.clause_at(ctrl.start)
            # "use the depth of room.jpg to generate a bedroom": the rest of the map's own clause asks for it
            m = pattern("generation", "guided_tail").search(req.masked, ctrl.end, here.end)
            if m and any(ctrl.end <= d.start < here.end and d.task != ctrl.task for d in found):
                m = None
            if m is None and ctrl.start > here.start:  # "then a new image from the segments: '...'": the map is
                m = pattern("generation", "guided_step").match(req.masked, here.start, here.end)  # named in the step
                m = m if m and m.start(1) >= ctrl.end else None
            if m is None:
                step = self._next_step(req, here.index + 1)
                if step is None or any(step.start <= d.start < step.end for d in found):
                    continue
                m = pattern("generation", "guided_step").match(req.masked, step.start, step.end)
                if m is None and pattern("literals", "condition").search(req.masked, step.start, step.end):
                    m = pattern("generation", "terse_step").match(req.masked, step.start, step.end)
                if m is None:  # "keep the 3D feel of the yard, how near and far stuff is, but show a version with ..."
                    m = pattern("generation", "guided_tail").search(req.masked, step.start, step.end)
            prompt = guided_prompt(req.text[m.start(1) : m.end(1)]) if m else ""
            if m and prompt:
                out.append(Detection(CONTROLLED[ctrl.task], m.start(1), m.end(1), capture=prompt))
        return out

    @staticmethod
    def _next_step(req: ParsedRequest, index: int) -> Clause | None:
        """The clause at ``index``, or the one after it when it only names the map ("then, using that depth map,
        generate '...'")."""
        step = next((c for c in req.clauses if c.index == index), None)
        if step is not None and (pattern("literals", "condition").search(req.masked, step.start, step.end)
                                 or pattern("generation", "map_step").match(req.masked, step.start, step.end)) \
                and not pattern("generation", "guided_step").match(req.masked, step.start, step.end):
            step = next((c for c in req.clauses if c.index == index + 1), step)
        return step

    def _step_on_result(self, req: ParsedRequest, clause: Clause, gen_clause: int) -> bool:
        """A condition map asked after the generation, chained or pointing back ("..., then estimate its depth"):
        a step on the generated picture, not a condition of it."""
        return clause.index > gen_clause and (clause.chained or self.has_pronoun(req, clause.start, clause.end))

    @staticmethod
    def _named_condition(req: ParsedRequest, gen: Detection, found: list[Detection]) -> Detection | None:
        """"What's the pose in trick.jpg?? then make a robot doing the same pose": a generation whose clause names
        a condition map ("the same pose", "that depth map") is guided by the latest map asked for before it."""
        clause = req.clause_at(gen.start)
        if not pattern("literals", "condition").search(req.masked, clause.start, clause.end):
            return None
        return max((d for d in found if d.task in CONTROLLED and d.start < gen.start), key=lambda d: d.start,
                   default=None)

    def _controlled(self, req: ParsedRequest, found: list[Detection]) -> list[Detection]:
        """Turn "draw X in the same pose as man.jpg" from text-to-image into pose-guided generation."""
        out = list(found)
        for gen in [d for d in found if d.task == "text-to-image"]:
            sentence = req.sentence_at(gen.start)
            gen_clause = req.clause_at(gen.start).index
            ctrl = next(
                (
                    d
                    for d in found
                    if d.task in CONTROLLED
                    and sentence.start <= d.start < sentence.end
                    and CONTROLLED[d.task] in self.tools
                    # "generate X, then estimate its depth": a later step on the result, not a condition of it
                    and not self._step_on_result(req, req.clause_at(d.start), gen_clause)
                ),
                None,
            ) or self._named_condition(req, gen, found) or _only_condition(req, gen, found)
            if ctrl is None:
                continue
            prompt = guided_prompt(gen.capture) if gen.capture else None  # "draw a cup from them" -> "a cup"
            if ctrl.start > gen.end:
                cut = ctrl.start - gen.end
                prompt = guided_prompt(req.text[gen.end : gen.end + max(cut, 0)])
                if pattern("generation", "map_asked").fullmatch(req.text[gen.end : ctrl.start]):
                    out.remove(gen)  # "can you make the depth image of it?": the map is what is made
                    continue
            if prompt and pattern("literals", "keeps_lead").match(prompt):
                prompt = _shown_instead(req, gen) or prompt
            out[out.index(gen)] = replace(
                gen, task=CONTROLLED[ctrl.task], capture=prompt or gen.capture, start=max(gen.start, ctrl.start) + 1
            )
        return out


# What is made from a description alone: "Draw me a picture. A cat asleep on a red sofa." takes the next sentence.
_DESCRIBED = ("text-to-image", "text-to-video")


def _described_next(req: ParsedRequest, found: list[Detection]) -> list[Detection]:
    """A picture or video asked for with no description, its sentence ending right after the words that ask for it
    or a few words that describe nothing ("Give me a picture that moves. Rain on an empty alley at midnight.", "Can
    you paint me a picture today? A hippo in galoshes ..."), is described by the next sentence, when that sentence
    asks for no task, names no file, is no question and no thanks or greeting."""
    out = []
    filler = pattern("generation", "no_description")
    for d in found:
        if d.task not in _DESCRIBED or (d.capture and not filler.match(d.capture)):
            out.append(d)
            continue
        here = req.sentence_at(d.start)
        later = next((s for s in req.sentences if s.start >= here.end), None)
        rest = req.masked[d.end : here.end].strip(" .!?:;,-\u2013\u2014")
        if (later is not None and (not rest or filler.match(rest))
                and not later.text.rstrip().endswith("?") and not req.resources_in(later.start, later.end)
                and len(later.text.split()) >= 3 and not pattern("parsing", "social_opening").match(later.text.strip())
                and not req.quotes_in(later.start, later.end)
                and not any(later.start <= e.start < later.end for e in found)):
            d = replace(d, capture=later.text.strip().rstrip(".!") or None)
        elif d.capture:
            d = replace(d, capture=None)  # "draw me a picture today": nothing says what to draw
        out.append(d)
    return out


def _only_condition(req: ParsedRequest, gen: Detection, found: list[Detection]) -> Detection | None:
    """"• Keep the exact outlines of the shoe • New visual: same sneaker in a neon alley": the one condition map the
    request asks for, in another sentence, guides a picture whose sentence refers back ("same", "from it", "with these
    edges, generate ...")."""
    controls = [d for d in found if d.task in CONTROLLED]
    if len({d.task for d in controls}) != 1 or (gen.capture and names_only_a_map(gen.capture)):
        return None  # (nor a picture that only names the map: "can you make the depth image of it?")
    sentence = req.sentence_at(gen.start)
    clause_end = req.clause_at(gen.start).end
    refers = (pattern("references", "condition_back").search(req.masked, sentence.start, sentence.end)
              or pattern("references", "condition_after").search(req.masked, sentence.start, clause_end))
    return controls[0] if refers else None


def _shown_instead(req: ParsedRequest, gen: Detection) -> str | None:
    """"a new picture that keeps the soft outlines ... just as they are, but shows it in deep winter, covered in snow":
    a prompt that only says what to keep; what the picture shows comes after "but", in its sentence."""
    sentence = req.sentence_at(gen.start)
    m = pattern("literals", "keeps_but").search(req.text, gen.end, sentence.end)
    return m.group("text").strip(" ,.!?") if m else None


def _counted_again(found: list[Detection]) -> list[Detection]:
    """``found`` without a generation whose capture only counts what to make ("...; prompt=\"a loft office\"; gen 1
    image"), when the same task is asked for otherwise too."""
    rx = pattern("references", "count_only")
    counted = [d for d in found if d.capture and rx.fullmatch(d.capture.strip(" .!"))]
    return [d for d in found if d not in counted or not any(e.task == d.task for e in found if e not in counted)]


def _image_at_hand(req: ParsedRequest, avail: Available) -> bool:
    """Whether a picture is named, attached or in the conversation (one a condition map could be taken from)."""
    return any(r.media == "image" and not r.output for r in req.resources) or "image" in (
        avail.user_media | avail.history_media)
