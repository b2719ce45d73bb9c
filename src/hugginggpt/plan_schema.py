"""The plan data model (JARVIS-compatible) and its codecs (JARVIS JSON, TaskBench ``task_nodes``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field, field_validator

GENERATED = "<GENERATED>"
_REF = re.compile(r"^<GENERATED>-(\d+)$")
_ANY_REF = re.compile(r"<GENERATED>-(\d+)")

DEFAULT_MAX_PLAN_TASKS = 64  # tasks in one plan, after unfolding (config: max_plan_tasks)
MAX_TASK_ID = 2**31 - 1  # larger ids are replaced by repair: they overflow storage and mean nothing to a plan
# A reference to a task id with more digits than this points at no task. Converting the digits is what must be
# avoided: Python refuses int() of more than 4300 digits, and a hostile plan can hold a million.
_MAX_REF_DIGITS = 18
NO_SUCH_TASK = 10**_MAX_REF_DIGITS  # what such a reference resolves to: above MAX_TASK_ID, so never a real task


def _ref_int(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_REF_DIGITS else NO_SUCH_TASK


def ref_id(value: str) -> int | None:
    """The task id a ``<GENERATED>-k`` value points at, or None for a literal."""
    m = _REF.match(value.strip())
    return _ref_int(m.group(1)) if m else None


def refs_in(value: str) -> list[int]:
    """All task ids referenced anywhere in a value (a malformed value may hold several)."""
    return [_ref_int(k) for k in _ANY_REF.findall(value)]


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

    def __iter__(self) -> Iterator[TaskSpec]:  # type: ignore[override]  # tasks, not pydantic's (field, value) pairs
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
        """Tasks ordered so each comes after the tasks it depends on (a cycle is broken where it is met).

        Iterative depth-first search: a chain of a thousand tasks listed last-first must not hit Python's
        recursion limit.
        """
        by_id = self.by_id()
        done: set[int] = set()
        order: list[TaskSpec] = []
        for root in self.tasks:
            if root.id in done:
                continue
            on_path = {root.id}
            stack: list[tuple[TaskSpec, Iterator[int]]] = [(root, iter(root.deps()))]
            while stack:
                task, pending = stack[-1]
                d = next((d for d in pending if d in by_id and d not in done and d not in on_path), None)
                if d is not None:
                    on_path.add(d)
                    stack.append((by_id[d], iter(by_id[d].deps())))
                    continue
                stack.pop()
                on_path.discard(task.id)
                done.add(task.id)
                order.append(task)
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
