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
from typing import Protocol

from ...tasks import TaskRegistry
from .lexicon import Lexicon, default_lexicon, pattern, words_rx
from .literals import captured_text, guided_prompt, listed_labels
from .phrases import coordinated, described_end, elliptical, similar_to_image
from .text import ParsedRequest, extract_question
from .types import Available, Detection

log = logging.getLogger(__name__)
# Lexicon and default_lexicon are re-exported: callers import them from here.
__all__ = ["CONTROLLED", "Available", "Detection", "KeywordDetector", "Lexicon", "TaskDetector", "ToolInfo",
           "default_lexicon", "tools_from_registry"]


@dataclass(frozen=True)
class ToolInfo:
    """What a detector may know about a tool: its name, description and typed inputs/outputs."""

    name: str
    description: str
    inputs: tuple[tuple[str, str], ...]  # (slot, media) pairs
    outputs: tuple[str, ...]

    @property
    def input_media(self) -> set[str]:
        """Non-text media the tool consumes (the files it needs)."""
        return {m for _, m in self.inputs if m != "text"}


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
_QA_TASKS = ("visual-question-answering", "document-question-answering", "question-answering")


class KeywordDetector:
    """Rule-based detector: lexicon triggers, media checks, overlap resolution and question routing."""

    def __init__(self, tools: Sequence[ToolInfo], lexicon: Lexicon | None = None) -> None:
        self.tools = {t.name: t for t in tools}
        self.lexicon = lexicon or default_lexicon()
        self._triggers = list(self._compile())
        nouns = self.lexicon.media_nouns()
        self._media_rx = {m: words_rx(ws) for m, ws in nouns.items() if ws}
        self._doc_rx = words_rx(self.lexicon.raw.get("document_nouns", []))
        self._question_rx = [re.compile(q, re.I) for q in self.lexicon.raw.get("question_triggers", [])]
        self._pronoun_rx = re.compile(self.lexicon.raw.get("pronoun", r"\b(?:it|this|that)\b"), re.I)

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
                    re.compile(e["re"], re.I),
                    bool(e.get("weak")),
                    bool(e.get("capture")),
                    bool(e.get("labels")),
                    rank,
                    bool(e.get("generic")),
                    bool(e.get("text_only")),
                    bool(e.get("no_file")),
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
        return bool(self._doc_rx.search(req.text))  # file names count: "receipt.png" is a document

    def _media_ok(self, t: _Trigger, start: int, req: ParsedRequest, avail: Available) -> bool:
        """Whether the medium the trigger's task consumes fits what the request names and what exists."""
        needed = self.tools[t.task].input_media
        clause = req.clause_at(start)
        if t.text_only:
            return not self.media_in(req, clause.start, clause.end) - {"text"}
        if t.no_file and req.resources_in(clause.start, clause.end):
            return False
        if not needed:
            return True
        in_clause = self.media_in(req, clause.start, clause.end) - {"text"}
        if in_clause and not in_clause & needed:
            return False  # "transcribe the video": the words point at another medium
        if not t.weak:
            return True
        if in_clause & needed or self.media_in(req, 0, len(req.text)) & needed or avail.user_media & needed:
            return True
        refers = self.has_pronoun(req, clause.start, clause.end)
        return bool(refers and avail.history_media & needed)

    # -- detection ------------------------------------------------------------------------------------------
    def detect(self, request: ParsedRequest, available: Available) -> list[Detection]:
        """Tasks the request asks for, in order of mention."""
        kept = self._drop_generic(request, self._resolve(request, available, self._matches(request)))
        out, captured = self._mentions(request, kept)
        out, captured = coordinated(request, out, captured, self.tools)
        out, captured = elliptical(request, out, captured, self.tools)
        out = self._drop_described(request, out, captured)
        out = similar_to_image(request, out)
        out = self._questions(request, available, out)
        out = self._controlled(request, out)
        return sorted(out, key=lambda d: d.start)

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
            if self._media_ok(t, m.start(), request, available):
                kept.append((t, m))
            elif t.weak:
                waiting.append((t, m))
        # "render a bike, then describe the render": a weak match whose medium an earlier task of the request makes.
        for t, m in sorted(waiting, key=lambda h: h[1].start()):
            made = self._made_before(kept, m.start())
            if made and not any(m.start() < k.end() and k.start() < m.end() for _, k in kept) and self._media_ok(
                t, m.start(), request, replace(available, user_media=available.user_media | made)
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
        its text ("I want a poster ... generate an image of 'Stay positive'").
        """
        clause = request.clause_at(m.start())
        own_file = request.resources_in(clause.start, clause.end) and self.tools[t.task].input_media
        if t.task not in seen or own_file:
            return None
        first_clause = request.clause_at(out[seen[t.task]].start)
        if request.quotes_in(first_clause.start, first_clause.end) or not request.quotes_in(clause.start, clause.end):
            return -1
        return seen[t.task]

    @staticmethod
    def _detection(request: ParsedRequest, t: _Trigger, m: re.Match[str]) -> Detection | None:
        """The detection of one match, with the text or labels it captures (None: labels asked for, none given)."""
        clause = request.clause_at(m.start())
        det = Detection(t.task, m.start(), m.end())
        if t.capture:
            det = replace(det, capture=captured_text(request, m.end(), clause.end))
        if t.labels:
            det = replace(det, labels=listed_labels(request, m.end(), clause.end))
            if not det.labels:
                return None
        return det

    @staticmethod
    def _drop_described(request: ParsedRequest, out: list[Detection], captured: list[bool]) -> list[Detection]:
        """Rule 4: words after "draw a picture of" describe the picture: they ask for no task of their own, up to
        a connective that another task follows ("a joke about cats but say it out loud")."""
        regions: list[tuple[int, int]] = []
        kept = list(out)
        for i, (d, c) in enumerate(zip(out, captured, strict=True)):
            if not c:
                continue
            clause_end = request.clause_at(d.start).end
            end = described_end(request, d.end, clause_end, out)
            regions.append((d.end, end))
            # Cut a capture that ran to the clause end (a rule-composed one, as in a list, is already cut).
            if end < clause_end and d.capture and d.capture == captured_text(request, d.end, clause_end):
                kept[i] = replace(d, capture=captured_text(request, d.end, end))
        return [d for d in kept if d.task in CONTROLLED or not any(a <= d.start < b for a, b in regions)]

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

    def _questions(self, req: ParsedRequest, avail: Available, found: list[Detection]) -> list[Detection]:
        """Route questions to visual, document or text question answering, or leave them to the LLM."""
        asked, quoted_only = self._quoted_questions(req, found)
        asked += self._sentence_questions(req, found, asked)
        asked += self._worded_questions(req, asked)
        out = list(found)
        for pos, question in sorted(asked):
            task = self._route_question(req, avail, pos, found)
            if pos in quoted_only and task == "question-answering":
                continue  # without an image to ask about, a bare quoted question is text for another task
            if task and task in self.tools:
                out.append(Detection(task, pos, pos + 1, question=question))
        return out

    @staticmethod
    def _quoted_questions(req: ParsedRequest, found: list[Detection]) -> tuple[list[tuple[int, str]], set[int]]:
        """Questions in quotes, and those of them nobody says to answer ("the phrase is 'Ça va?'")."""
        asked: list[tuple[int, str]] = []
        quoted_only: set[int] = set()
        for q in req.quotes:
            clause = req.clause_at(q.start)
            busy = [d for d in found if clause.start <= d.start < clause.end]
            asks = pattern("questions", "asks").search(req.masked[clause.start : clause.end])
            # "translate 'Wo ist der Bahnhof?'": a quoted question in a clause that asks for another task is
            # that task's text, not a question for the planner to route.
            if q.text.endswith("?") and (not busy or asks):
                asked.append((q.start, q.text))
                if not asks:
                    quoted_only.add(q.start)
        return asked, quoted_only

    @staticmethod
    def _sentence_questions(req: ParsedRequest, found: list[Detection],
                            asked: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Questions asked by sentences that ask for no task and hold no quoted question."""
        out = []
        for s in req.sentences:
            if any(s.start <= d.start < s.end for d in found):
                continue  # the sentence already asks for a task ("what is in this photo?")
            if any(s.start <= p < s.end for p, _ in asked):
                continue
            question = extract_question(s, req.masked[s.start : s.end])
            if question:
                out.append((s.start, question))
        return out

    def _worded_questions(self, req: ParsedRequest, asked: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Sentences that ask to answer a question in words ("the question is ..."), unless already asked."""
        out: list[tuple[int, str]] = []
        for rx in self._question_rx:
            for m in rx.finditer(req.masked):
                sentence = req.sentence_at(m.start())
                if any(sentence.start <= p < sentence.end for p, _ in asked + out):
                    continue  # the question itself is already there (quoted or asked)
                out.append((m.start(), sentence.text))
        return out

    def _route_question(self, req: ParsedRequest, avail: Available, pos: int, found: list[Detection]) -> str | None:
        """The QA task for a question at ``pos``: about an image or document if one is at hand, else a text."""
        sentence = req.sentence_at(pos)
        earlier = [self.tools[d.task] for d in found if d.start < pos and d.task in self.tools]
        image = (
            any(r.media == "image" for r in req.resources if not r.output)
            or "image" in avail.user_media
            or any("image" in t.outputs for t in earlier)
            or (
                "image" in avail.history_media
                and (
                    "image" in self.media_in(req, sentence.start, sentence.end)
                    or self.has_pronoun(req, sentence.start, sentence.end)
                )
            )
        )
        if image:
            return "document-question-answering" if self.mentions_document(req) else "visual-question-answering"
        text = (
            any(not q.text.endswith("?") for q in req.quotes)
            or any(r.media == "text" for r in req.resources)
            or any("text" in t.outputs for t in earlier)
            or ("text" in avail.history_media and self.has_pronoun(req, sentence.start, sentence.end))
        )
        return "question-answering" if text else None

    def _controlled(self, req: ParsedRequest, found: list[Detection]) -> list[Detection]:
        """Turn "draw X in the same pose as man.jpg" from text-to-image into pose-guided generation."""
        out = list(found)
        for gen in [d for d in found if d.task == "text-to-image"]:
            sentence = req.sentence_at(gen.start)
            ctrl = next(
                (
                    d
                    for d in found
                    if d.task in CONTROLLED
                    and sentence.start <= d.start < sentence.end
                    and CONTROLLED[d.task] in self.tools
                ),
                None,
            )
            if ctrl is None:
                continue
            prompt = gen.capture
            if ctrl.start > gen.end:
                cut = ctrl.start - gen.end
                prompt = guided_prompt(req.text[gen.end : gen.end + max(cut, 0)])
            out[out.index(gen)] = replace(
                gen, task=CONTROLLED[ctrl.task], capture=prompt or gen.capture, start=max(gen.start, ctrl.start) + 1
            )
        return out

