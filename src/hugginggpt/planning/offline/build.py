"""From detected tasks to a typed dependency graph with filled arguments.

Each detected task becomes a node. Its input slots are filled, in order of mention, from (a) the files, quotes
and words of its own clause, (b) an earlier task's output when the request refers back to it ("the
description", "it", "then ..."), (c) the request's other files and quotes, and (d) the files the user attached or
an earlier turn produced. A text slot whose clause names an image or audio file gets a converter task in front
(image-to-text, speech recognition): "summarize meeting.wav" is ASR then summarization.
"""

from __future__ import annotations

import re

from ...tasks import TaskRegistry
from ..base import KnownResource
from .detect import CONTROLLED, MAP_ONLY, Detection, KeywordDetector
from .lexicon import pattern, words_alt
from .literals import label_form, labels_of
from .missing import MissingInputError, missing_input
from .nodes import Node, number_nodes
from .text import Clause, ParsedRequest, Resource, named_quotes
from .text_slots import TextSlots

_REVERSE_CONTROLLED = {v: k for k, v in CONTROLLED.items()}


class GraphBuilder(TextSlots):
    """Builds the nodes of one request; ``build()`` returns the plan as JARVIS task dicts. The rules that fill
    text slots (and find earlier nodes) are ``TextSlots``'."""

    def __init__(
        self,
        req: ParsedRequest,
        detections: list[Detection],
        files: list[KnownResource],
        registry: TaskRegistry,
        detector: KeywordDetector,
    ) -> None:
        self.req = req
        self.detections = detections
        self.registry = registry
        self.detector = detector
        self.context = [Resource(f.name, f.media, -1, f.origin) for f in files]
        self.nodes: list[Node] = []
        self.notes: list[str] = []
        self.used_quotes: set[int] = set()
        asked = {d.question for d in detections if d.question}
        # quotes that are no task's text: the questions asked, and names before a colon text ("my EP 'X': <prompt>")
        self.kept_quotes = {q.start for q in req.quotes if q.text in asked} | named_quotes(req)
        self._result_nouns = set(detector.lexicon.raw.get("result_nouns", []))
        self._determiners = set(detector.lexicon.words("references", "determiners"))
        self._ordinals = {str(k): int(v) for k, v in detector.lexicon.raw["references"]["ordinals"].items()}
        self._ref_rx: dict[str, re.Pattern[str]] = {}
        determiners = words_alt(detector.lexicon.words("references", "determiners"))
        made = str(detector.lexicon.raw["references"]["made"])
        any_medium = list(detector.lexicon.words("references", "made_any"))
        self._made_rx = {media: re.compile(made.replace("<MEDIUM>", words_alt([*nouns, *any_medium])), re.I)
                         for media, nouns in detector.lexicon.media_nouns().items()}
        for name in registry.names:
            nouns = detector.lexicon.refs(name)
            if nouns:
                self._ref_rx[name] = re.compile(rf"\b(?:{determiners})\s+(?:\w+\s+)?(?:{words_alt(nouns)})\b", re.I)

    # -- public ---------------------------------------------------------------------------------------------
    def build(self) -> list[dict[str, object]]:
        """Nodes for every detection, ordered so each task follows its inputs, numbered from 0."""
        failures: list[tuple[Detection, MissingInputError]] = []
        for det in self._in_dependency_order(self.detections):
            mark, used = len(self.nodes), set(self.used_quotes)
            try:
                self._add(det)
            except MissingInputError as exc:
                del self.nodes[mark:]  # converters put in front of the failed task go with it
                self.used_quotes = used
                failures.append((det, exc))
        for det, err in failures:
            # A task whose input is missing fails the request when it is all the request asks for, or when the
            # user names the missing input ("transcribe the audio"); otherwise the detection was likely wrong
            # (a stray keyword) and the rest of the plan still serves the user.
            clause = self.req.clause_at(det.start)
            if any(n.task == det.task and (n.clause.start == clause.start or not det.capture) for n in self.nodes):
                continue  # a second reading of a task already planned ("my 3d render ... then use it to make '...'")
            if not self.nodes or (
                err.media != "text" and err.media in self.detector.media_in(self.req, clause.start, clause.end)
            ):
                raise err
            self.notes.append(f"left out {det.task}: {err.message}")
        return number_nodes(self.nodes, self.registry)

    def _in_dependency_order(self, detections: list[Detection]) -> list[Detection]:
        """Move a task after a later-mentioned task whose output it names: "read out the summary of notes.txt"."""
        key: dict[int, float] = {}
        for i, d in enumerate(detections):
            key[i] = d.start
            clause = self.req.clause_at(d.start)
            for e in detections:
                rx = self._ref_rx.get(e.task)
                if e is d or rx is None or not d.start < e.start < clause.end:
                    continue
                # the reference ends at e and is a few words long: search near e only (a long clause of many
                # detections would otherwise be scanned once per pair)
                m = rx.search(self.req.masked, max(d.end, e.start - 100), min(clause.end, e.end + 40))
                if m and m.start() <= e.start < m.end() + 1:
                    key[i] = max(key[i], e.start + 0.5)
        order = sorted(range(len(detections)), key=lambda i: (key[i], i))
        return [detections[i] for i in order]

    # -- nodes ----------------------------------------------------------------------------------------------
    def _add(self, det: Detection) -> None:
        tt = self.registry.get(det.task)
        clause = self.req.clause_at(det.start)
        node = Node(len(self.nodes), det.task, det.start, clause)
        clones: list[str] = []
        for slot in tt.inputs:
            if slot.type == "text":
                continue
            choice = self._media_source(slot.type, node, det)
            if isinstance(choice, list):
                node.args[slot.name], clones = choice[0], choice[1:]
            elif isinstance(choice, int):
                node.refs[slot.name] = choice
            else:
                node.args[slot.name] = choice
        if det.labels:  # quoted labels ("as 'urgent' or 'not urgent'", "into one of: a, b, c") are not the text
            labels = {x.strip() for x in det.labels.split(",")}
            self.used_quotes |= {q.start for q in self.req.quotes_in(clause.start, clause.end)
                                 if label_form(q.text) in labels or labels_of(q.text) == det.labels}
        self._fill_text(node, tt, det)
        own_quotes = [q.text for q in self.req.quotes_in(clause.start, clause.end)]
        if [s.name for s in tt.inputs if s.required and s.name != "labels"] == ["text"] \
                and node.args.get("text") in own_quotes:
            # "the sentiment of 'I loved it' and 'I hated it'": one task per quoted text (each with the labels)
            self._commit_each_language(node)
            while (extra := self._clause_quote(node)) is not None:
                self._commit(Node(len(self.nodes), node.task, node.pos + 0.01, clause, {**node.args, "text": extra}))
            return
        self._commit_each_language(node)
        media_slot = next(s.name for s in tt.inputs if s.type != "text") if clones else ""
        for i, name in enumerate(clones, 1):
            twin = Node(len(self.nodes), node.task, node.pos + i * 0.01, clause, dict(node.args), dict(node.refs))
            twin.args[media_slot] = name
            self._commit(twin)

    def _commit_each_language(self, node: Node) -> None:
        """Commit ``node``, and a twin for each further language it is to be translated into ("translate it to
        German and to French": one translation per language)."""
        self._commit(node)
        for language in self.target_languages(node)[1:] if "language" in node.args else []:
            self._commit(Node(len(self.nodes), node.task, node.pos + 0.01, node.clause,
                              {**node.args, "language": language}, dict(node.refs)))

    # -- media slots ----------------------------------------------------------------------------------------
    def _media_source(self, media: str, node: Node, det: Detection) -> str | int | list[str]:
        clause = node.clause
        if node.task in _REVERSE_CONTROLLED and media == "image":
            control = self._latest(lambda n: n.task == _REVERSE_CONTROLLED[node.task])
            if control is not None:
                return control
        own = self._own_files(det, clause, media)
        if own:
            return own if len(own) > 1 else own[0]
        nth = self._ordinal_file(clause, media)
        if nth is not None:
            return nth
        # A map is never made from another map ("(a) one from its depth map, and (b) one from its normal map": both
        # of the photo): an annotator reads no earlier annotator's output.
        maps = {n.key for n in self.nodes if n.task in MAP_ONLY} if node.task in MAP_ONLY else set()
        referenced = self._referenced(node, media, maps)
        if referenced is not None:
            return referenced
        producer = self._latest(lambda n: media in self._outputs(n) and n.key not in maps)
        if producer is not None and self._reads_output(node, producer, media):
            return producer
        mentioned = [r for r in self.req.resources if r.media == media and not r.output]
        names = list(dict.fromkeys(r.name for r in mentioned))
        if len(names) > 1 and pattern("references", "plural").search(self.req.masked, clause.start, clause.end):
            return names  # "a.jpg, b.jpg and c.jpg ... how many horses are in them?": one task per file
        if mentioned:
            before = [r for r in mentioned if r.start < clause.start]
            return (before[-1] if before else mentioned[0]).name
        attached = [r for r in self.context if r.media == media and r.origin != "history"]
        if attached:
            return attached[-1].name
        if producer is not None:
            return producer
        history = [r for r in self.context if r.media == media]
        if history:
            return history[-1].name
        raise missing_input(node.task, media)

    def _reads_output(self, node: Node, key: int, media: str) -> bool:
        """Whether ``node`` reads the ``media`` output of node ``key``, the latest that makes it, rather than a file
        of the request: in a chained clause ("then ..."), unless that output only marks up its input; and a
        transcription after a cleaning, also when "and" joins them ("very noisy ... make it clean and write me what
        he says": the cleaned recording)."""
        if node.clause.chained and not self._annotates(key, media):
            return True
        return node.task == "automatic-speech-recognition" and self.nodes[key].task == "audio-to-audio"

    def _annotates(self, key: int, media: str) -> bool:
        """Whether node ``key``'s ``media`` output only marks up its input (a verdict task's picture with boxes drawn),
        so a next step that asks about the scene ("-> count the people -> is anyone holding a guitar?") reads the
        input instead, when the request names it."""
        node = self.nodes[key]
        return self.registry.get(node.task).verdict and any(
            r.media == media and not r.output for r in self.req.resources)

    def _ordinal_file(self, clause: Clause, media: str) -> str | None:
        """"the second picture", "the first one": that file of ``media`` in order of mention."""
        m = pattern("references", "ordinal").search(self.req.masked, clause.start, clause.end)
        if m is None:
            return None
        names = list(dict.fromkeys(r.name for r in self.req.resources if r.media == media and not r.output))
        index = self._ordinals.get(m.group(1).lower())
        if index is None or not names or not (-len(names) <= index < len(names)):
            return None
        return names[index]

    def _own_files(self, det: Detection, clause: Clause, media: str) -> list[str]:
        """The clause's files of ``media`` for ``det``: all of them ("caption a.jpg and b.jpg": one task each),
        or those after its words when another task of the clause asks between them ("pose of a.jpg and content
        of b.jpg")."""
        own = self.req.resources_in(clause.start, clause.end, media)
        if len(own) > 1:
            nxt = min((d.start for d in self.detections if det.start < d.start < clause.end), default=clause.end)
            near = [r for r in own if det.start <= r.start < nxt]
            if near and len(near) < len(own):
                own = near
        return [r.name for r in own]
