"""Plan validation and automatic repair (JARVIS's ``fix_dep`` and ``unfold``, slot inference, name mapping)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from ..errors import PlanError
from ..media import looks_like_resource, media_of_name
from ..plan_schema import DEFAULT_MAX_PLAN_TASKS, MAX_TASK_ID, Plan, TaskSpec, gen, ref_id, refs_in
from ..tasks import TaskRegistry, TaskType
from .limits import check_structure, clean_text, too_many_tasks

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
            # difflib is quadratic in the name's length; a name that long is no misspelling anyway.
            close = registry.suggest(t.task) if len(t.task) <= _SUGGEST_MAX_CHARS else []
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            issues.append(PlanIssue("unknown_task", t.id, f"unknown task {_show(t.task)}{hint}"))
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
                issues.append(PlanIssue("bad_ref", t.id, f"slot {name!r} mixes references and text: {_show(value)}"))
                continue
            if k is None:
                if slot.type != "text" and not looks_like_resource(value):
                    issues.append(PlanIssue(
                        "wrong_slot_type", t.id,
                        f"slot {name!r} needs a {slot.type} file, URL or <GENERATED>-k, got {_show(value)}",
                    ))
                elif slot.type != "text" and media_of_name(value) not in (None, slot.type):
                    issues.append(PlanIssue(
                        "wrong_slot_type", t.id,
                        f"slot {name!r} needs a {slot.type}, but {_show(value)} is a {media_of_name(value)} file",
                    ))
                elif slot.type != "text" and any(ord(c) < 32 or c == "\x7f" for c in value):
                    # No file name or URL holds control characters; a NUL would only fail later, deep in the OS.
                    issues.append(PlanIssue("bad_value", t.id, f"slot {name!r} holds control characters: "
                                                               f"{_show(value)}"))
                continue
            if k == t.id:
                issues.append(PlanIssue("self_ref", t.id, f"slot {name!r} refers to the task's own output"))
            elif k not in by_id:
                issues.append(PlanIssue("bad_ref", t.id, f"slot {name!r} refers to missing task {_show(value)}"))
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
            shown = " -> ".join(map(str, cycle[:12])) + (f" -> … ({len(cycle) - 1} tasks)" if len(cycle) > 12 else "")
            issues.append(PlanIssue("cycle", cycle[0], f"tasks form a cycle: {shown}"))
    return issues


def _find_cycle(plan: Plan) -> list[int] | None:
    """A cycle of references as ``[a, b, ..., a]``, or None.

    Iterative depth-first search with an explicit path: a 1,000-task chain listed last-first once overflowed the
    recursion limit here.
    """
    graph = {t.id: [d for d in t.references().values()] for t in plan.tasks}
    finished: set[int] = set()
    for root in graph:
        if root in finished:
            continue
        path = [root]
        position = {root: 0}  # node -> index in path, for nodes on the current path
        pending = [iter(graph[root])]
        while pending:
            m = next((m for m in pending[-1] if m in graph and m not in finished), None)
            if m is None:
                pending.pop()
                done = path.pop()
                del position[done]
                finished.add(done)
            elif m in position:
                return [*path[position[m]:], m]
            else:
                position[m] = len(path)
                path.append(m)
                pending.append(iter(graph[m]))
    return None


def repair_plan(raw: Any, registry: TaskRegistry, *,
                max_tasks: int = DEFAULT_MAX_PLAN_TASKS) -> tuple[Plan, list[str]]:
    """Best-effort repair of a raw plan (as parsed from JSON). Returns the plan and notes of what changed.

    Repairs: the plan as a single object or under a ``tasks`` key; task names in other spellings; string ids, and
    ids that are no task id (negative, fractional, infinite, NaN, huge, not a number) replaced by the task's
    position; invented slot names (mapped by alias or by the value's media type); list values; lone surrogates in
    text; multi-resource arguments unfolded into one task each (JARVIS's ``unfold``); ``dep`` recomputed from
    ``<GENERATED>-k`` (``fix_dep``), whatever the given ``dep`` held.

    Raises ``PlanTooLarge`` (a ``PlanError``) when the input is nested too deep or holds too much (``limits.py``),
    or when the plan has more than ``max_tasks`` tasks before or after unfolding; ``PlanError`` when a task cannot
    be built at all.
    """
    check_structure(raw)  # bounds everything below: deepcopy, str() and the joins recurse
    notes: list[str] = []
    items = _as_task_list(raw)
    listed = sum(1 for item in items if isinstance(item, dict) and "task" in item)
    if listed > max_tasks:
        raise too_many_tasks(listed, max_tasks)
    tasks: list[dict[str, Any]] = []
    for pos, item in enumerate(items):
        if not isinstance(item, dict) or "task" not in item:
            notes.append(f"dropped item {pos}: not a task object")
            continue
        t = copy.deepcopy(item)
        name = clean_text(t["task"] if isinstance(t["task"], str) else _join(t["task"]))
        canon = registry.canonical(name)
        if canon and canon != name:
            notes.append(f"task name {_show(name)} -> {canon!r}")
        t["task"] = canon or name
        tid = _task_id(t.get("id", pos))
        if tid is None:
            tid = pos
            notes.append(f"task at position {pos}: id {_show(item.get('id'))} replaced by {pos}")
        t["id"] = tid
        args = t.get("args") or t.get("arguments") or {}
        if isinstance(args, list):
            args = {f"_{i}": v for i, v in enumerate(args)}
        elif not isinstance(args, dict):
            args = {"_0": args}
        t["args"] = {clean_text(str(k)): clean_text(v if isinstance(v, str) else _join(v)) for k, v in args.items()}
        tasks.append(t)

    tasks = _unfold(tasks, notes, max_tasks)
    by_id = {t["id"]: t for t in tasks}
    for t in tasks:
        if t["task"] in registry:
            t["args"] = _fix_slots(t, registry.get(t["task"]), by_id, registry, notes)
        old = t.get("dep")
        t["dep"] = sorted({k for v in t["args"].values() for k in ([ref_id(v)] if ref_id(v) is not None else [])
                           if k != t["id"]}) or [-1]
        if isinstance(old, list) and _given_deps(old) != [d for d in t["dep"] if d != -1]:
            notes.append(f"task {t['id']}: dep {_show(old)} -> {t['dep']} (from its <GENERATED> arguments)")
    try:
        built = [TaskSpec.model_validate({k: t[k] for k in ("task", "id", "dep", "args")}) for t in tasks]
    except ValueError as exc:  # pydantic's ValidationError; unreachable for what the loop above builds
        raise PlanError(f"A task of the plan cannot be built: {str(exc)[:300]}") from exc
    return Plan(tasks=built), notes


def _task_id(value: Any) -> int | None:
    """``value`` as a task id (0..MAX_TASK_ID), or None when it is none: bools, fractions, NaN, ±inf (JSON's 1e400
    parses as inf), negative or huge numbers, and strings that are not plain digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    elif isinstance(value, str):
        digits = value.strip()
        if not digits.isascii() or not digits.isdigit() or len(digits) > len(str(MAX_TASK_ID)):
            return None
        value = int(digits)
    if not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_TASK_ID else None


def _given_deps(old: list[Any]) -> list[int]:
    """The task ids a given ``dep`` list names, whatever else it holds (``["a", 1, -1, null]`` -> ``[1]``)."""
    return sorted({d for d in map(_task_id, old) if d is not None})


_SUGGEST_MAX_CHARS = 64
_SHOW_CHARS = 80


def _show(value: Any) -> str:
    """``repr(value)`` clipped for messages: a hostile plan's values may be megabytes long."""
    text = repr(value) if isinstance(value, str) else _join(value)
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 1] + "…"


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
    """A non-string argument as text: list items (nested lists flattened) joined by commas, anything else ``str``.
    Recursive, which is safe because ``check_structure`` has bounded the depth."""
    if isinstance(v, (list, tuple)):
        return ",".join(_join(x) for x in v)
    return v if isinstance(v, str) else str(v)


def _unfold(tasks: list[dict[str, Any]], notes: list[str], max_tasks: int) -> list[dict[str, Any]]:
    """Split a task whose argument lists several ``<GENERATED>-k`` into one task per reference.

    The size of the result is counted before anything is copied: one argument listing 50,000 references would
    otherwise become 50,000 tasks.
    """
    multis = [next(((k, v) for k, v in t["args"].items() if len(refs_in(v)) > 1), None) for t in tasks]
    total = sum(1 if m is None else len(refs_in(m[1])) for m in multis)
    if total > max_tasks:
        raise too_many_tasks(total, max_tasks, "Unfolding the arguments that list several outputs gives")
    out: list[dict[str, Any]] = []
    next_id = max((t["id"] for t in tasks), default=-1) + 1
    for t, multi in zip(tasks, multis, strict=True):
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
