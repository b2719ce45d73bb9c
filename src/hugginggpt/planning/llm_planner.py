"""The LLM planner: HuggingGPT's task-planning prompt, JSON-schema constrained, validated, repaired, re-asked once.

Prompt (``prompts/plan.yaml``): the rules and the task list with typed slots (system), a few request -> plan demos
chosen by word similarity to the request (user/assistant pairs), then the request with the known files and the
earlier turns. The output is constrained to ``{"tasks": [...]}`` with task names as an enum and the registry's slot
names as the only argument keys. The answer goes through ``repair_plan`` then ``validate_plan``; when problems remain
(or the answer is not JSON), the LLM is asked once more with the problems listed; then ``PlanError``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from typing import Any

from ..errors import LLMResponseError, PlanError
from ..llm.base import LLM
from ..media import media_of_name
from ..tasks import TaskRegistry, default_registry
from .base import KnownResource, PlanContext, PlanOutcome
from .prompts import load_prompts, render
from .schema import Plan
from .validate import repair_plan, validate_plan

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)?")
_STOP = frozenset(
    ["a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "be", "it", "this", "that",
     "me", "my", "i", "you", "can", "could", "please", "what", "then", "also", "from", "into", "by", "at", "as", "do",
     "does", "how"])


_ID = {"type": "integer", "minimum": 0}
_DEP = {"type": "array", "items": {"type": "integer", "minimum": -1}, "maxItems": 5}
_VALUE = {"type": "string", "maxLength": 1500}  # bounded: tiny models otherwise loop inside a string


def plan_json_schema(registry: TaskRegistry, max_tasks: int = 10, per_task_slots: bool = True) -> dict[str, Any]:
    """The JSON schema of a plan: ``{"tasks": [{"task", "id", "dep", "args"}]}``.

    With ``per_task_slots`` each task is one ``anyOf`` branch whose ``args`` allow exactly that task's slots (and
    require its required ones), so constrained decoding cannot produce unknown or missing slots. Without it, the
    task name is an enum and ``args`` may use any slot name of the registry (for servers with weaker schema
    support).
    """
    if per_task_slots:
        item: dict[str, Any] = {"anyOf": [_task_branch(t.name, {s.name: s.required for s in t.inputs})
                                          for t in registry]}
    else:
        slots = sorted({s.name for t in registry for s in t.inputs})
        item = _task_branch(registry.names, dict.fromkeys(slots, False))
    return {"type": "object", "properties": {"tasks": {"type": "array", "items": item, "maxItems": max_tasks}},
            "required": ["tasks"], "additionalProperties": False}


def _task_branch(name: str | list[str], slots: dict[str, bool]) -> dict[str, Any]:
    task = {"type": "string", "enum": name} if isinstance(name, list) else {"type": "string", "const": name}
    args = {"type": "object", "properties": {s: _VALUE for s in slots},
            "required": [s for s, required in slots.items() if required], "additionalProperties": False}
    return {"type": "object", "properties": {"task": task, "id": _ID, "dep": _DEP, "args": args},
            "required": ["task", "id", "dep", "args"], "additionalProperties": False}


def parse_plan_output(text: str) -> Any:
    """The JSON value in an LLM answer (bare, fenced, or after some prose). Raises ValueError when there is none."""
    s = text.strip()
    if s.startswith("```"):
        s = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", s)
    try:
        return json.loads(s)
    except json.JSONDecodeError as exc:
        first_error = exc
    decoder = json.JSONDecoder()
    for m in re.finditer(r"[\[{]", s):
        try:
            value, _ = decoder.raw_decode(s, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, (list, dict)):
            return value
    raise ValueError(f"{first_error.msg} at character {first_error.pos}")


def _check_shape(value: Any) -> None:
    """Reject JSON that is not a plan, so that e.g. ``{"answer": 1}`` is not silently read as chit-chat."""
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict) and "task" in value:
        items = [value]
    elif isinstance(value, dict) and any(isinstance(value.get(k), list) for k in ("tasks", "plan", "task_nodes")):
        items = next(value[k] for k in ("tasks", "plan", "task_nodes") if isinstance(value.get(k), list))
    else:
        raise ValueError('expected {"tasks": [...]} or a list of tasks')
    if items and not any(isinstance(t, dict) and "task" in t for t in items):
        raise ValueError("the list holds no task objects")


# -- demo selection ---------------------------------------------------------------------------------------------


def _terms(text: str) -> list[str]:
    """Lower-cased words without stop words, plus the media type of each file name (``x.wav`` -> ``audio``)."""
    words = _WORD.findall(text.lower())
    out = [w for w in words if w not in _STOP]
    out += [m for w in words if (m := media_of_name(w))]
    return out


class DemoSelector:
    """Picks the demos most similar to a request: TF-IDF cosine over words and file media types."""

    def __init__(self, demos: list[dict[str, Any]]) -> None:
        self.demos = demos
        docs = [Counter(_terms(d["request"] + " " + " ".join(f["name"] for f in d.get("files", []))))
                for d in demos]
        df = Counter(t for doc in docs for t in doc)
        n = len(docs)
        self._idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
        self._vectors = [self._vector(doc) for doc in docs]

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        vec = {t: c * self._idf.get(t, math.log(1 + len(self.demos)) + 1.0) for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}

    def select(self, request: str, k: int, files: list[KnownResource] | None = None) -> list[dict[str, Any]]:
        """The ``k`` most similar demos, most similar last (nearest the request); from ``k=2`` on, one of them is
        always an empty plan, so the model sees that answering without tasks is allowed."""
        if k <= 0 or not self.demos:
            return []
        query = self._vector(Counter(_terms(request + " " + " ".join(f.media for f in files or []))))
        scores = [sum(w * vec.get(t, 0.0) for t, w in query.items()) for vec in self._vectors]
        order = sorted(range(len(self.demos)), key=lambda i: (-scores[i], i))
        chosen = order[:k]
        if k > 1 and not any(not self.demos[i]["tasks"] for i in chosen):
            empty = next((i for i in order if not self.demos[i]["tasks"]), None)
            if empty is not None:
                chosen = [*chosen[: k - 1], empty]
        return [self.demos[i] for i in sorted(chosen, key=lambda i: scores[i])]


# -- the planner ------------------------------------------------------------------------------------------------


class LLMPlanner:
    """Planner that asks the controller LLM for the plan (HuggingGPT's stage 1).

    Every LLM call is made with ``stage="plan"``, so the client's ``usage`` (and a per-run ``TrackedLLM``) count
    planning tokens under that stage.
    """

    name = "llm"

    def __init__(self, llm: LLM, registry: TaskRegistry | None = None, *, demos_k: int = 4, max_tasks: int = 10,
                 max_tokens: int = 1024, history_turns: int = 6, max_turn_chars: int = 600,
                 per_task_slots: bool = True) -> None:
        self.llm = llm
        self.registry = registry or default_registry()
        self.prompts = load_prompts("plan")
        self.demos = DemoSelector(self.prompts.get("demos", []))
        self.demos_k = demos_k
        self.max_tokens = max_tokens
        self.history_turns = history_turns
        self.max_turn_chars = max_turn_chars
        self.schema = plan_json_schema(self.registry, max_tasks=max_tasks, per_task_slots=per_task_slots)

    def build_messages(self, request: str, context: PlanContext | None = None) -> list[dict[str, str]]:
        """The chat messages of the planning prompt (system, demos, request with files and history)."""
        context = context or PlanContext(registry=self.registry)
        system = render(self.prompts["system"], signatures=[t.signature() for t in self.registry])
        messages = [{"role": "system", "content": system}]
        for demo in self.demos.select(request, self.demos_k, context.files):
            files = [KnownResource(name=f["name"], media=f["media"]) for f in demo.get("files", [])]
            messages.append({"role": "user", "content": render(self.prompts["user"], request=demo["request"],
                                                               files=files, history=[])})
            messages.append({"role": "assistant", "content": json.dumps({"tasks": demo["tasks"]})})
        history = [{"role": str(turn.get("role", "user")), "content": _clip(str(turn.get("content", "")),
                                                                            self.max_turn_chars)}
                   for turn in context.history[-self.history_turns:]] if self.history_turns else []
        messages.append({"role": "user", "content": render(self.prompts["user"], request=request,
                                                           files=context.files, history=history)})
        return messages

    def plan(self, request: str, context: PlanContext | None = None) -> PlanOutcome:
        """Plan ``request``; raises ``PlanError`` (with the problems) when no valid plan comes out after one re-ask.

        LLM errors other than a bad answer (unavailable, auth, quota) propagate unchanged.
        """
        context = context or PlanContext(registry=self.registry)
        messages = self.build_messages(request, context)
        raws: list[str] = []
        notes: list[str] = []
        first_issues: list[str] = []
        for attempt in (1, 2):
            text, problem, issues, plan, repairs = self._attempt(messages)
            raws.append(text)
            if attempt == 2 and plan is not None and not plan.tasks and first_issues:
                # Dropping every task is how weak models dodge a correction; it is not an answer to the request.
                problem, issues = None, [*first_issues, "the re-asked answer dropped every task"]
                plan = None
            if plan is not None and not issues:
                if attempt == 2:
                    notes.append("the re-asked plan is valid")
                notes.extend(repairs)
                if not plan.tasks:
                    notes.append("no tasks: the request is answered directly (chit-chat)")
                log.info("LLM plan ready", extra={"tasks": len(plan.tasks), "attempts": attempt})
                return PlanOutcome(plan=plan, planner=self.name, notes=notes, raw=raws)
            if attempt == 2:
                break
            # One re-ask, showing the model its own answer and what is wrong with it.
            if text.strip():
                messages = [*messages, {"role": "assistant", "content": text}]
            if problem is not None:
                notes.append(f"re-asked: the first answer was not a usable plan ({problem})")
                reask = render(self.prompts["reask_unparseable"], error=problem)
            else:
                first_issues = issues
                notes.append(f"re-asked with {len(issues)} validation problem(s): " + "; ".join(issues))
                reask = render(self.prompts["reask_issues"], issues=issues)
            messages = [*messages, {"role": "user", "content": reask}]
        hint = ("Rephrase the request, name the files explicitly, or configure a stronger LLM "
                "(llm.backend: openai) or the offline planner (planner: offline).")
        if problem is not None:
            raise PlanError(f"The LLM did not return a readable plan, even when asked again ({problem}).",
                            issues=[problem], hint=hint)
        raise PlanError("The LLM's plan is invalid and the re-asked plan was too.", issues=issues, hint=hint)

    def _attempt(self, messages: list[dict[str, str]]) -> tuple[str, str | None, list[str], Plan | None, list[str]]:
        """One LLM call: (raw text, unreadable-problem, validation issues, repaired plan, repair notes)."""
        try:
            result = self.llm.chat(messages, json_schema=self.schema, max_tokens=self.max_tokens, temperature=0.0,
                                   stage="plan")
        except LLMResponseError as exc:
            return "", f"the LLM gave no usable answer: {exc.message}", [], None, []
        text = result.text or ""
        try:
            data = parse_plan_output(text)
            _check_shape(data)
            plan, repairs = repair_plan(data, self.registry)
        except ValueError as exc:  # json errors and pydantic validation errors are ValueErrors
            truncated = " (the answer was cut off at the token limit)" if result.finish_reason == "length" else ""
            return text, f"not valid plan JSON: {exc}{truncated}", [], None, []
        issues = [str(i) for i in validate_plan(plan, self.registry)]
        return text, None, issues, plan, repairs


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
