"""The plan data model (JARVIS-compatible) and its codecs (JARVIS JSON, TaskBench ``task_nodes``)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

GENERATED = "<GENERATED>"
_REF = re.compile(r"^<GENERATED>-(\d+)$")
_ANY_REF = re.compile(r"<GENERATED>-(\d+)")


def ref_id(value: str) -> int | None:
    """The task id a ``<GENERATED>-k`` value points at, or None for a literal."""
    m = _REF.match(value.strip())
    return int(m.group(1)) if m else None


def refs_in(value: str) -> list[int]:
    """All task ids referenced anywhere in a value (a malformed value may hold several)."""
    return [int(k) for k in _ANY_REF.findall(value)]


def gen(k: int) -> str:
    return f"{GENERATED}-{k}"


class TaskSpec(BaseModel):
    """One node of a plan: ``{"task", "id", "dep", "args"}`` as in JARVIS."""

    task: str
    id: int
    dep: list[int] = Field(default_factory=lambda: [-1])
    args: dict[str, str] = Field(default_factory=dict)

    @field_validator("args", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): (x if isinstance(x, str) else _to_text(x)) for k, x in v.items()}
        return v

    def references(self) -> dict[str, int]:
        """slot -> referenced task id, for args that are exactly ``<GENERATED>-k``."""
        out = {}
        for slot, value in self.args.items():
            k = ref_id(value)
            if k is not None:
                out[slot] = k
        return out

    def deps(self) -> list[int]:
        return [d for d in self.dep if d != -1]


def _to_text(x: Any) -> str:
    if isinstance(x, list):
        return ",".join(_to_text(i) for i in x)
    return str(x)


class Plan(BaseModel):
    """A DAG of tasks. An empty plan means chit-chat: the LLM answers directly."""

    tasks: list[TaskSpec] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):  # type: ignore[override]
        return iter(self.tasks)

    def by_id(self) -> dict[int, TaskSpec]:
        return {t.id: t for t in self.tasks}

    def to_jarvis(self) -> list[dict[str, Any]]:
        return [t.model_dump() for t in self.tasks]

    @classmethod
    def from_jarvis(cls, data: list[dict[str, Any]] | dict[str, Any]) -> Plan:
        if isinstance(data, dict):
            data = data.get("tasks", [data]) if "task" not in data else [data]
        return cls(tasks=[TaskSpec.model_validate(t) for t in data])

    def topological(self) -> list[TaskSpec]:
        """Tasks ordered so each comes after the tasks it depends on (the plan must be acyclic)."""
        by_id = self.by_id()
        done: set[int] = set()
        order: list[TaskSpec] = []

        def visit(t: TaskSpec, stack: set[int]) -> None:
            if t.id in done or t.id in stack:
                return
            stack.add(t.id)
            for d in t.deps():
                if d in by_id:
                    visit(by_id[d], stack)
            stack.discard(t.id)
            done.add(t.id)
            order.append(t)

        for t in self.tasks:
            visit(t, set())
        return order

    def to_taskbench(self, name_of: dict[str, str] | None = None) -> dict[str, Any]:
        """TaskBench form: ``task_nodes`` with ``<node-j>`` (0-based index) references, and ``task_links``."""
        ordered = self.topological()
        index = {t.id: j for j, t in enumerate(ordered)}
        name_of = name_of or {}
        nodes, links = [], []
        for t in ordered:
            args = []
            for value in t.args.values():
                k = ref_id(value)
                args.append(f"<node-{index[k]}>" if k is not None and k in index else value)
            nodes.append({"task": name_of.get(t.task, t.task), "arguments": args})
            for d in t.deps():
                if d in index:
                    links.append({"source": nodes[index[d]]["task"], "target": nodes[-1]["task"]})
        return {"task_nodes": nodes, "task_links": links}
