"""Plan validation and automatic repair (JARVIS's ``fix_dep`` and ``unfold``, slot inference, name mapping)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..media import looks_like_resource, media_of_name
from ..tasks import TaskRegistry, TaskType
from .schema import Plan, TaskSpec, gen, ref_id, refs_in

# Slot names LLMs commonly invent, mapped onto ours.
_SLOT_ALIASES = {
    "img": "image", "image_url": "image", "image_path": "image", "picture": "image", "photo": "image",
    "audio_url": "audio", "audio_path": "audio", "speech": "audio", "sound": "audio",
    "video_url": "video", "video_path": "video",
    "question": "text", "prompt": "text", "query": "text", "sentence": "text", "input": "text",
    "text1": "text", "sentence1": "text", "sentence2": "text2", "passage": "context", "document": "context",
    "candidate_labels": "labels",
}


@dataclass(frozen=True)
class PlanIssue:
    """One validation problem: a machine code, the task it concerns, and an explanation."""

    code: str
    task_id: int | None
    message: str

    def __str__(self) -> str:
        where = f"task {self.task_id}: " if self.task_id is not None else ""
        return f"{where}{self.message} [{self.code}]"


def output_type_for(producer: TaskType, slot_type: str) -> str | None:
    """Which output of ``producer`` feeds a slot of ``slot_type`` (None when none fits)."""
    return slot_type if slot_type in producer.outputs else None


def validate_plan(plan: Plan, registry: TaskRegistry) -> list[PlanIssue]:
    """All problems of a plan; an empty list means it can run."""
    issues: list[PlanIssue] = []
    by_id: dict[int, TaskSpec] = {}
    for t in plan.tasks:
        if t.id in by_id:
            issues.append(PlanIssue("duplicate_id", t.id, f"id {t.id} is used by more than one task"))
        by_id[t.id] = t
    for t in plan.tasks:
        if t.task not in registry:
            close = registry.suggest(t.task)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            issues.append(PlanIssue("unknown_task", t.id, f"unknown task {t.task!r}{hint}"))
            continue
        tt = registry.get(t.task)
        for req in tt.required_slots:
            if not t.args.get(req.name, "").strip():
                issues.append(PlanIssue("missing_slot", t.id, f"{t.task} needs a {req.type} in slot {req.name!r}"))
        for name, value in t.args.items():
            slot = tt.slot(name)
            if slot is None:
                allowed = ", ".join(s.name for s in tt.inputs)
                issues.append(PlanIssue("unknown_slot", t.id, f"{t.task} has no slot {name!r} (slots: {allowed})"))
                continue
            k = ref_id(value)
            if k is None and refs_in(value):
                issues.append(PlanIssue("bad_ref", t.id, f"slot {name!r} mixes references and text: {value!r}"))
                continue
            if k is None:
                if slot.type != "text" and not looks_like_resource(value):
                    issues.append(PlanIssue(
                        "wrong_slot_type", t.id,
                        f"slot {name!r} needs a {slot.type} file, URL or <GENERATED>-k, got {value!r}",
                    ))
                elif slot.type != "text" and media_of_name(value) not in (None, slot.type):
                    issues.append(PlanIssue(
                        "wrong_slot_type", t.id,
                        f"slot {name!r} needs a {slot.type}, but {value!r} is a {media_of_name(value)} file",
                    ))
                continue
            if k == t.id:
                issues.append(PlanIssue("self_ref", t.id, f"slot {name!r} refers to the task's own output"))
            elif k not in by_id:
                issues.append(PlanIssue("bad_ref", t.id, f"slot {name!r} refers to missing task {k}"))
            elif by_id[k].task in registry:
                producer = registry.get(by_id[k].task)
                if output_type_for(producer, slot.type) is None:
                    issues.append(PlanIssue(
                        "type_mismatch", t.id,
                        f"slot {name!r} needs {slot.type} but task {k} ({producer.name}) outputs "
                        f"{'/'.join(producer.outputs)}",
                    ))
        declared = set(t.deps())
        referenced = set(t.references().values())
        if declared != referenced:
            issues.append(PlanIssue("dep_mismatch", t.id, f"dep {sorted(declared)} != references {sorted(referenced)}"))
    if not any(i.code in ("bad_ref", "duplicate_id") for i in issues):
        cycle = _find_cycle(plan)
        if cycle:
            issues.append(PlanIssue("cycle", cycle[0], f"tasks form a cycle: {' -> '.join(map(str, cycle))}"))
    return issues


def _find_cycle(plan: Plan) -> list[int] | None:
    graph = {t.id: [d for d in t.references().values()] for t in plan.tasks}
    color: dict[int, int] = {}

    def dfs(n: int, path: list[int]) -> list[int] | None:
        color[n] = 1
        for m in graph.get(n, []):
            if color.get(m) == 1:
                return [*path[path.index(m):], m] if m in path else [n, m]
            if color.get(m, 0) == 0 and m in graph:
                found = dfs(m, [*path, m])
                if found:
                    return found
        color[n] = 2
        return None

    for n in graph:
        if color.get(n, 0) == 0:
            found = dfs(n, [n])
            if found:
                return found
    return None


def repair_plan(raw: Any, registry: TaskRegistry) -> tuple[Plan, list[str]]:
    """Best-effort repair of a raw plan (as parsed from JSON). Returns the plan and notes of what changed.

    Repairs: the plan as a single object or under a ``tasks`` key; task names in other spellings; string ids;
    invented slot names (mapped by alias or by the value's media type); list values; multi-resource arguments
    unfolded into one task each (JARVIS's ``unfold``); ``dep`` recomputed from ``<GENERATED>-k`` (``fix_dep``).
    """
    notes: list[str] = []
    items = _as_task_list(raw)
    tasks: list[dict[str, Any]] = []
    for pos, item in enumerate(items):
        if not isinstance(item, dict) or "task" not in item:
            notes.append(f"dropped item {pos}: not a task object")
            continue
        t = copy.deepcopy(item)
        name = str(t["task"])
        canon = registry.canonical(name)
        if canon and canon != name:
            notes.append(f"task name {name!r} -> {canon!r}")
            t["task"] = canon
        try:
            t["id"] = int(t.get("id", pos))
        except (TypeError, ValueError):
            t["id"] = pos
            notes.append(f"task at position {pos}: id {item.get('id')!r} replaced by {pos}")
        args = t.get("args") or t.get("arguments") or {}
        if isinstance(args, list):
            args = {f"_{i}": v for i, v in enumerate(args)}
        elif not isinstance(args, dict):
            args = {"_0": args}
        t["args"] = {str(k): (v if isinstance(v, str) else _join(v)) for k, v in args.items()}
        tasks.append(t)

    tasks = _unfold(tasks, notes)
    by_id = {t["id"]: t for t in tasks}
    for t in tasks:
        if t["task"] in registry:
            t["args"] = _fix_slots(t, registry.get(t["task"]), by_id, registry, notes)
        old = t.get("dep")
        t["dep"] = sorted({k for v in t["args"].values() for k in ([ref_id(v)] if ref_id(v) is not None else [])
                           if k != t["id"]}) or [-1]
        if isinstance(old, list) and sorted(x for x in old if x != -1) != [d for d in t["dep"] if d != -1]:
            notes.append(f"task {t['id']}: dep {old} -> {t['dep']} (from its <GENERATED> arguments)")
    return Plan(tasks=[TaskSpec.model_validate({k: t[k] for k in ("task", "id", "dep", "args")}) for t in tasks]), notes


def _as_task_list(raw: Any) -> list[Any]:
    if isinstance(raw, dict):
        for key in ("tasks", "plan", "task_nodes"):
            if isinstance(raw.get(key), list):
                return raw[key]
        return [raw] if "task" in raw else []
    if isinstance(raw, list):
        return raw
    return []


def _join(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


def _unfold(tasks: list[dict[str, Any]], notes: list[str]) -> list[dict[str, Any]]:
    """Split a task whose argument lists several ``<GENERATED>-k`` into one task per reference."""
    out: list[dict[str, Any]] = []
    next_id = max((t["id"] for t in tasks), default=-1) + 1
    for t in tasks:
        multi = next(((k, v) for k, v in t["args"].items() if len(refs_in(v)) > 1), None)
        if multi is None:
            out.append(t)
            continue
        slot, value = multi
        ids = refs_in(value)
        for n, k in enumerate(ids):
            clone = copy.deepcopy(t)
            clone["args"][slot] = gen(k)
            if n > 0:
                clone["id"] = next_id
                next_id += 1
            out.append(clone)
        notes.append(f"task {t['id']}: argument {slot!r} lists {len(ids)} outputs; unfolded into {len(ids)} tasks")
    return out


def _fix_slots(t: dict[str, Any], tt: TaskType, by_id: dict[int, dict[str, Any]], registry: TaskRegistry,
               notes: list[str]) -> dict[str, str]:
    fixed: dict[str, str] = {}
    pending: list[tuple[str, str]] = []
    for key, value in t["args"].items():
        name = key if tt.slot(key) else _SLOT_ALIASES.get(key.lower())
        if name and tt.slot(name) and name not in fixed:
            fixed[name] = value
        else:
            pending.append((key, value))
    for key, value in pending:
        media = _media_of_value(value, by_id, registry)
        free = [s for s in tt.inputs if s.name not in fixed and (media is None or s.type == media)]
        if free:
            fixed[free[0].name] = value
            if not key.startswith("_") or len(tt.inputs) > 1:
                notes.append(f"task {t['id']}: argument {key!r} -> slot {free[0].name!r}")
        else:
            fixed[key] = value  # left for validation to report
    return fixed


def _media_of_value(value: str, by_id: dict[int, dict[str, Any]], registry: TaskRegistry) -> str | None:
    k = ref_id(value)
    if k is not None:
        producer = by_id.get(k)
        if producer and producer["task"] in registry:
            return registry.get(producer["task"]).outputs[-1] if len(registry.get(producer["task"]).outputs) == 1 \
                else None
        return None
    if looks_like_resource(value):
        return media_of_name(value) or None
    return "text"
