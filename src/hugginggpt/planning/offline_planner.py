"""The offline planner: plans a request with rules, no LLM needed.

Three steps, each its own component:

1. parse the request (``offline.text``): files and URLs, quoted strings, clauses, questions;
2. detect the tasks it asks for (``offline.detect``): a ``TaskDetector`` built from the tool list; the default
   ``KeywordDetector`` uses a YAML keyword lexicon and routes questions to visual / document / text QA;
3. build the typed graph (``offline.build``): fill each task's slots from files, quotes, the user's attachments
   and earlier tasks' outputs, in order of mention, so an output feeds the next input of a fitting type.

A learned tool detector (``offline.learned_path``) works with the rules whenever a shipped model knows the
registry's tools. For our own registry (the product model) it adds to step 2 the tasks it is confident of that the
rules missed, and step 3 builds the graph from both (the rules' detections alone when the added tasks do not fit).
For a registry bound to a TaskBench tool list, a model trained on that list, which also weighs the rules' choice
of tasks, replaces steps 2-3: ``offline.learned`` scores the tools, ``offline.assemble`` orders, connects and fills
them. Without the model files or the sentence embedder the rules plan alone.

The result goes through ``repair_plan`` and ``validate_plan`` like any other planner's. It is deterministic and
takes milliseconds. A request that asks for no task (chit-chat, general questions) gets an empty plan: the LLM
answers it. A task whose input is missing raises ``PlanError`` that says which input to give.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..errors import PlanError
from ..plan_schema import Plan
from ..tasks import TaskRegistry, default_registry
from .base import KnownResource, PlanContext, PlanOutcome
from .offline.build import GraphBuilder
from .offline.detect import Available, KeywordDetector, TaskDetector, ToolInfo, tools_from_registry
from .offline.learned_path import LearnedPath
from .offline.missing import MissingInputError, unread_file, unread_files
from .offline.spelling import mend_spelling
from .offline.text import Resource, parse_request, slash_breaks, spoken_punctuation, with_arrow_chains
from .validate import repair_plan, validate_plan

log = logging.getLogger(__name__)

DetectorFactory = Callable[[Sequence[ToolInfo]], TaskDetector]


class OfflinePlanner:
    """Rule-based planner that needs no capable LLM.

    ``registry`` fixes the task list (the planning context's registry is used when it is None).
    ``detector`` swaps the task-detection step: a factory that takes the tool list and returns a
    ``TaskDetector`` (the keyword detector by default).
    """

    name = "offline"

    def __init__(self, registry: TaskRegistry | None = None, detector: DetectorFactory | None = None,
                 learned: bool = True) -> None:
        self.registry = registry
        self.learned = learned
        self._factory: DetectorFactory = detector or KeywordDetector
        # Built once per registry; the registry is kept with them so a recycled id() can never match.
        self._detectors: dict[int, tuple[TaskRegistry, TaskDetector, KeywordDetector]] = {}
        self._learned: dict[int, tuple[TaskRegistry, LearnedPath | None]] = {}

    def learned_for(self, registry: TaskRegistry) -> LearnedPath | None:
        """The learned path for a registry whose tools a shipped model knows (None: rules only)."""
        if not self.learned:
            return None
        cached = self._learned.get(id(registry))
        if cached is None or cached[0] is not registry:
            try:
                path = LearnedPath.for_registry(registry)
            except Exception as exc:  # noqa: BLE001 - a broken model file must never stop rule-based planning
                log.warning("learned planner unavailable, planning with rules: %s", exc)
                path = None
            cached = self._learned[id(registry)] = (registry, path)
        return cached[1]

    def detector_for(self, registry: TaskRegistry) -> TaskDetector:
        """The detector for a registry's tool list (built once per registry)."""
        return self._components(registry)[1]

    def _components(self, registry: TaskRegistry) -> tuple[TaskRegistry, TaskDetector, KeywordDetector]:
        cached = self._detectors.get(id(registry))
        if cached is None or cached[0] is not registry:
            tools = tools_from_registry(registry)
            detector = self._factory(tools)
            # The graph builder reads the lexicon's media words and references even when detection is swapped.
            keyword = detector if isinstance(detector, KeywordDetector) else KeywordDetector(tools)
            cached = self._detectors[id(registry)] = (registry, detector, keyword)
        return cached

    def plan(self, request: str, context: PlanContext) -> PlanOutcome:
        """Plan ``request``; raises ``PlanError`` when a task's input is missing or the plan cannot be made valid."""
        registry = self.registry or context.registry or default_registry()
        _, detector, keyword = self._components(registry)
        request = mend_spelling(with_arrow_chains(slash_breaks(spoken_punctuation(request))), keyword.lexicon)
        parsed = parse_request(request, keyword.lexicon.verbs)
        files = current_and_earlier(context)
        available = Available(
            user_media=frozenset(f.media for f in files if f.origin != "history"),
            history_media=frozenset(f.media for f in files if f.origin == "history"),
            context=tuple(Resource(f.name, f.media, -1, f.origin) for f in files),
        )
        detections = [d for d in detector.detect(parsed, available) if d.task in registry]
        log.debug("offline planner detected %s", [d.task for d in detections], extra={"planner": self.name})
        learned = self.learned_for(registry)
        added = learned.detections(request, parsed, detections, available) if learned and learned.adds else []
        builder = added_or_rules(parsed, detections, added, files, registry, keyword)
        unread = unread_files(request)  # "invoice.pdf": a file of a kind no task reads
        try:
            raw = builder.build()
        except PlanError as exc:
            if learned is None or learned.adds:
                if unread and isinstance(exc, MissingInputError):
                    raise unread_file(unread) from None
                raise
            raw = []  # the learned path may still find the inputs the rules missed
        plan, notes = repair_plan(raw, registry)
        notes = builder.notes + notes
        planned = {t.task for t in plan.tasks} if builder.detections is not detections else set()
        kept = [d.task for d in added if d.task in planned]
        if kept:
            notes.insert(0, f"the learned tool detector added {', '.join(kept)}")
        if learned is not None and not learned.adds:
            plan, notes = self._learned_plan(learned, request, parsed, plan, notes, registry)
        issues = validate_plan(plan, registry)
        if issues:
            raise PlanError(
                "The offline planner could not build a valid plan for this request.",
                issues=[str(i) for i in issues],
                hint="Rephrase the request with one task per sentence and the files named, or configure an LLM.",
            )
        if not plan.tasks and unread:
            raise unread_file(unread)
        if unread:
            notes.append(f"not read: {', '.join(unread)} (no task here reads such files)")
        if not plan.tasks:
            notes.append("no task detected: the request is left to the LLM to answer")
        return PlanOutcome(plan=plan, planner=self.name, notes=notes, raw=raw)

    @staticmethod
    def _learned_plan(learned: LearnedPath, request: str, parsed, rule_plan: Plan, notes: list[str],
                      registry: TaskRegistry) -> tuple[Plan, list[str]]:
        """The learned planner's plan (it weighs the rules' choice of tasks); the rules' plan if it is invalid."""
        raw = learned.plan(request, parsed, [t.task for t in rule_plan.tasks])
        plan, learned_notes = repair_plan(raw, registry)
        if validate_plan(plan, registry):
            return rule_plan, [*notes, "the learned planner's plan was invalid: kept the rule-based plan"]
        return plan, ["planned by the learned tool detector", *learned_notes]


def added_or_rules(parsed, detections: list, added: list, files: list[KnownResource], registry: TaskRegistry,
                   keyword: KeywordDetector) -> GraphBuilder:
    """A graph builder over the rules' detections plus the learned detector's ``added`` ones, in order of mention;
    the rules' detections alone when those with the added ones cannot be built (the rules keep priority)."""
    if added:
        merged = sorted([*detections, *added], key=lambda d: d.start)
        builder = GraphBuilder(parsed, merged, files, registry, keyword)
        try:
            builder.build()
        except PlanError as exc:
            log.debug("the learned detector's tasks did not fit the plan: %s", exc)
        else:
            return GraphBuilder(parsed, merged, files, registry, keyword)
    return GraphBuilder(parsed, detections, files, registry, keyword)


def current_and_earlier(context: PlanContext) -> list[KnownResource]:
    """The context's files, with user files of earlier chat turns marked as earlier ("history") ones.

    A user file that the chat history already names was given in an earlier turn: it is context to refer back to
    ("it", "the photo"), while a file attached with this request is what the request is about.
    """
    if not context.history:
        return list(context.files)
    said = [str(m.get("content") or "") for m in context.history]
    given: set[str] = set()
    for m in context.history:
        attached: Any = m.get("files") or []  # a list of paths in chat front ends, sometimes one path
        given.update([attached] if isinstance(attached, str) else map(str, attached))
    out = []
    for f in context.files:
        earlier = f.origin != "history" and (f.name in given or any(f.name in text for text in said))
        out.append(replace(f, origin="history") if earlier else f)
    return out
