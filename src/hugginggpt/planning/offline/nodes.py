"""Planned nodes and their numbering into the plan's JARVIS task list."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ...plan_schema import gen
from ...tasks import TaskRegistry
from .text import Clause


@dataclass
class Node:
    """A task being planned: ``refs`` maps a slot to the key of the node whose output fills it."""

    key: int
    task: str
    pos: float
    clause: Clause
    args: dict[str, str] = field(default_factory=dict)
    refs: dict[str, int] = field(default_factory=dict)


def number_nodes(nodes: list[Node], registry: TaskRegistry) -> list[dict[str, object]]:
    """The plan as JARVIS task dicts: nodes in dependency order (order of mention among ready ones), numbered from 0."""
    indeg = {n.key: len(set(n.refs.values())) for n in nodes}
    users: dict[int, list[int]] = {n.key: [] for n in nodes}
    for n in nodes:
        for k in set(n.refs.values()):
            users[k].append(n.key)
    by_key = {n.key: n for n in nodes}
    ready = [(n.pos, n.key) for n in nodes if indeg[n.key] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, k = heapq.heappop(ready)
        order.append(k)
        for u in users[k]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(ready, (by_key[u].pos, u))
    new_id = {k: i for i, k in enumerate(order)}
    out: list[dict[str, object]] = []
    for k in order:
        n = by_key[k]
        args = dict(n.args)
        args.update({slot: gen(new_id[src]) for slot, src in n.refs.items()})
        tt = registry.get(n.task)
        args = {s.name: args[s.name] for s in tt.inputs if s.name in args}  # slot order as registered
        dep = sorted({new_id[src] for src in n.refs.values()}) or [-1]
        out.append({"task": n.task, "id": new_id[k], "dep": dep, "args": args})
    return out
