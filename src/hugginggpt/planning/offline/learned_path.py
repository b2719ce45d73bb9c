"""The offline planner's learned path: when a shipped model knows the registry's tools, plan with it.

A model applies to a registry when at least ``learned.MIN_COVERAGE`` of the registry's tasks map onto tools the
model was trained on (a task maps by its own name or its ``taskbench`` aliases). Our product registry has tasks the
TaskBench tool lists lack (ControlNet conditions, zero-shot classification ...), so it stays with the rules; a
registry bound to a TaskBench tool list gets the learned planner. Without the embedder or the model files the rules
plan everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ...tasks import TaskRegistry, TaskType
from ..schema import gen
from .assemble import PlannedNode
from .learned import LearnedModel, ToolSig, best_model
from .text import ParsedRequest, media_of_resource

log = logging.getLogger(__name__)
_MEDIA = ("image", "audio", "video")


@lru_cache(maxsize=1)
def _embedder():
    from .features import load_embedder

    return load_embedder()


def label_map(registry: TaskRegistry, labels: Sequence[str]) -> dict[str, str]:
    """Registry task -> the model's tool name, for the tasks that have one (first fitting alias wins)."""
    known = set(labels)
    out: dict[str, str] = {}
    taken: set[str] = set()
    for t in registry:
        for name in [t.name, *t.taskbench]:
            if name in known and name not in taken:
                out[t.name] = name
                taken.add(name)
                break
    return out


class LearnedPath:
    """The learned planner bound to one registry (see the module docstring)."""

    def __init__(self, registry: TaskRegistry, model: LearnedModel, embed) -> None:
        from .tool_planner import LearnedToolPlanner

        self.registry = registry
        self.model = model
        self.task_of = {label: task for task, label in label_map(registry, model.labels).items()}
        trained = {t.name: t for t in model.tools}
        sigs = []
        for t in registry:
            label = next((lab for lab, task in self.task_of.items() if task == t.name), None)
            sigs.append(trained[label] if label in trained else _sig(t))
        self.sigs = sigs
        self.planner = LearnedToolPlanner(model, sigs, embed)

    @classmethod
    def for_registry(cls, registry: TaskRegistry, models: Sequence[LearnedModel] | None = None
                     ) -> LearnedPath | None:
        """The learned path for ``registry``, or None when no model fits it or the embedder is missing."""
        model = best_model([_first_known(t, models) for t in registry], models)
        if model is None:
            return None
        embed = _embedder()
        if embed is None:
            return None
        return cls(registry, model, embed)

    def rule_vector(self, tasks: Sequence[str]) -> np.ndarray:
        """The rule-based plan's tasks as a 0/1 vector over the planner's tools."""
        index = {s.name: i for i, s in enumerate(self.sigs)}
        v = np.zeros(len(self.sigs), dtype=np.float32)
        for task in tasks:
            label = next((lab for lab, t in self.task_of.items() if t == task), task)
            if label in index:
                v[index[label]] = 1.0
        return v

    def plan(self, text: str, parsed: ParsedRequest, rule_tasks: Sequence[str]) -> list[dict[str, object]]:
        """A raw plan (JARVIS task dicts over the registry's task names) for ``text``."""
        nodes = self.planner.plan(text, parsed, self.rule_vector(rule_tasks))
        return to_tasks(nodes, self.sigs, self.registry, self.task_of)


def _first_known(t: TaskType, models: Sequence[LearnedModel] | None) -> str:
    from .learned import load_models

    labels = {lab for m in (load_models() if models is None else models) for lab in m.labels}
    return next((n for n in [t.name, *t.taskbench] if n in labels), t.name)


def _sig(t: TaskType) -> ToolSig:
    return ToolSig(t.name, t.description, tuple(s.type for s in t.inputs), tuple(t.outputs))


def _media(kind: str) -> str:
    kind = kind.lower()
    return kind if kind in _MEDIA else "text"


def to_tasks(nodes: Sequence[PlannedNode], sigs: Sequence[ToolSig], registry: TaskRegistry,
             task_of: dict[str, str]) -> list[dict[str, object]]:
    """TaskBench-style nodes as registry tasks: each argument goes to the first free slot of its media type."""
    by_name = {s.name: s for s in sigs}
    out: list[dict[str, object]] = []
    for i, node in enumerate(nodes):
        task = task_of.get(node.tool, node.tool)
        tt = registry.get(task)
        args: dict[str, str] = {}
        deps: set[int] = set()
        for value in node.args:
            if isinstance(value, tuple):
                producer = by_name.get(nodes[value[1]].tool)
                media = _media(producer.outputs[0]) if producer and producer.outputs else "text"
                text, dep = gen(value[1]), value[1]
            else:
                media, text, dep = media_of_resource(value) or "text", value, None
                if value.lower().startswith(("http://", "https://", "www.")) and not any(
                        s.type == media and s.name not in args for s in tt.inputs):
                    media = "text"  # a URL goes to a text slot when no slot takes its media
            slot = next((s for s in tt.inputs if s.type == media and s.name not in args), None)
            if slot is None:
                continue
            args[slot.name] = text
            if dep is not None:
                deps.add(dep)
        out.append({"task": task, "id": i, "dep": sorted(deps) or [-1], "args": args})
    return out
