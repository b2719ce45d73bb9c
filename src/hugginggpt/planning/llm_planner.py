"""The LLM planner: HuggingGPT's task-planning prompt, JSON-schema constrained, validated, repaired, re-asked once.

Prompt (``prompts/plan.yaml``): the rules and the typed signatures of the tasks that matter for the request (system),
a few request -> plan demos over those tasks chosen by word similarity to the request (user/assistant pairs), then the
request with the known files and the earlier turns. Which tasks matter is a recall-first shortlist ranked offline
(``shortlist.TaskShortlist``: the offline plan, the learned detector's scores, sentence similarity); every task is
shown when no ranking is available. The output is constrained to ``{"tasks": [...]}`` with the shown task names as
an enum and each task's slot names as the only argument keys. The answer goes through ``repair_plan`` then
``validate_plan`` (over the whole registry); when problems remain (or the answer is not JSON), the LLM is asked once
more with the problems listed; then ``PlanError``.

An answer cut off at the token limit (``finish_reason == "length"``) is never used, even when a complete-looking
JSON object can be dug out of it (that is how three planned tasks once became one): the same prompt is asked again
once with a larger limit, and a second cut answer is a ``PlanError``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import LLMResponseError, LLMTruncated, PlanError, PlanTooLarge
from ..llm.base import LLM
from ..media import media_of_name
from ..plan_schema import DEFAULT_MAX_PLAN_TASKS, Plan
from ..prompts import plan_prompt, render
from ..tasks import TaskRegistry, default_registry
from .base import KnownResource, PlanContext, PlanOutcome
from .limits import MAX_PLAN_DEPTH, MAX_PLAN_TEXT_CHARS, check_structure, text_depth
from .shortlist import TaskShortlist, shortlist_for
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


def plan_json_schema(registry: TaskRegistry, max_tasks: int = 10, per_task_slots: bool = True,
                     tasks: Sequence[str] | None = None) -> dict[str, Any]:
    """The JSON schema of a plan: ``{"tasks": [{"task", "id", "dep", "args"}]}``.

    With ``per_task_slots`` each task is one ``anyOf`` branch whose ``args`` allow exactly that task's slots (and
    require its required ones), so constrained decoding cannot produce unknown or missing slots. Without it, the
    task name is an enum and ``args`` may use any slot name of the registry (for servers with weaker schema
    support). ``tasks`` limits the allowed task names to those (in registry order); None allows every task.
    """
    allowed = [t for t in registry if tasks is None or t.name in tasks]
    if per_task_slots:
        item: dict[str, Any] = {"anyOf": [_task_branch(t.name, {s.name: s.required for s in t.inputs})
                                          for t in allowed]}
    else:
        slots = sorted({s.name for t in allowed for s in t.inputs})
        item = _task_branch([t.name for t in allowed], dict.fromkeys(slots, False))
    return {"type": "object", "properties": {"tasks": {"type": "array", "items": item, "maxItems": max_tasks}},
            "required": ["tasks"], "additionalProperties": False}


def _task_branch(name: str | list[str], slots: dict[str, bool]) -> dict[str, Any]:
    task = {"type": "string", "enum": name} if isinstance(name, list) else {"type": "string", "const": name}
    args = {"type": "object", "properties": {s: _VALUE for s in slots},
            "required": [s for s, required in slots.items() if required], "additionalProperties": False}
    return {"type": "object", "properties": {"task": task, "id": _ID, "dep": _DEP, "args": args},
            "required": ["task", "id", "dep", "args"], "additionalProperties": False}


_MAX_JSON_STARTS = 64  # "[" or "{" tried as the start of the JSON after prose; each try may scan to the end


def parse_plan_output(text: str) -> Any:
    """The JSON value in an LLM answer (bare, fenced, or after some prose).

    Raises ``ValueError`` when there is none, and ``PlanTooLarge`` (a ``PlanError``) when the text is longer than
    ``MAX_PLAN_TEXT_CHARS`` or the JSON is nested deeper than ``MAX_PLAN_DEPTH`` (``"[" * 5000`` once escaped as a
    ``RecursionError``) or otherwise over the limits of ``limits.check_structure``.
    """
    if len(text) > MAX_PLAN_TEXT_CHARS:
        raise PlanTooLarge(f"The plan text is {len(text)} characters long; the limit is {MAX_PLAN_TEXT_CHARS}.",
                           hint="A plan is a short JSON list of tasks; ask for fewer steps.")
    s = text.strip()
    if s.startswith("```"):
        s = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", s)
    if text_depth(s) > MAX_PLAN_DEPTH:  # before a decoder recurses into it, once per candidate start below
        raise _too_deep()
    try:
        value = json.loads(s)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        first_error = exc
    else:
        check_structure(value)
        return value
    decoder = json.JSONDecoder()
    for n, m in enumerate(re.finditer(r"[\[{]", s)):
        if n >= _MAX_JSON_STARTS:  # bounds the scan at 64 passes over the text, not one per bracket
            break
        try:
            value, _ = decoder.raw_decode(s, m.start())
        except RecursionError:
            raise _too_deep() from None
        except ValueError:
            continue
        if isinstance(value, (list, dict)):
            check_structure(value)
            return value
    if isinstance(first_error, json.JSONDecodeError):
        raise ValueError(f"{first_error.msg} at character {first_error.pos}")
    raise ValueError(str(first_error)[:200])


def _too_deep() -> PlanTooLarge:
    return PlanTooLarge(f"The plan JSON is nested more than {MAX_PLAN_DEPTH} levels deep (the limit is "
                        f"{MAX_PLAN_DEPTH}).", hint="A plan is a flat list of tasks; ask again.")


def read_plan(text: str, registry: TaskRegistry, *,
              max_tasks: int = DEFAULT_MAX_PLAN_TASKS) -> tuple[Plan, list[str]]:
    """Plan text (an LLM answer) -> the repaired plan and its repair notes; not yet validated.

    Every way the text can be unusable ends as a ``PlanError``: no JSON, JSON that is not a plan, or a plan over a
    limit (``PlanTooLarge``).
    """
    try:
        data = parse_plan_output(text)
        _check_shape(data)
        return repair_plan(data, registry, max_tasks=max_tasks)
    except ValueError as exc:  # json errors, and pydantic validation errors
        raise PlanError(f"not valid plan JSON: {exc}") from exc


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


def plan_json(tasks: list[dict[str, Any]]) -> str:
    """A plan as the demos show it (and a model following them writes it): compact JSON, ``{"tasks": [...]}``."""
    return json.dumps({"tasks": tasks}, ensure_ascii=False, separators=(",", ":"))


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

    def select(self, request: str, k: int, files: list[KnownResource] | None = None,
               tasks: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The ``k`` most similar demos, most similar last (nearest the request); from ``k=2`` on, one of them is
        always an empty plan, so the model sees that answering without tasks is allowed. With ``tasks``, only demos
        whose every task is among them are candidates (a demo must not use a task the prompt does not show)."""
        if k <= 0 or not self.demos:
            return []
        query = self._vector(Counter(_terms(request + " " + " ".join(f.media for f in files or []))))
        scores = [sum(w * vec.get(t, 0.0) for t, w in query.items()) for vec in self._vectors]
        fits = [tasks is None or all(d["task"] in tasks for d in demo["tasks"]) for demo in self.demos]
        order = sorted((i for i in range(len(self.demos)) if fits[i]), key=lambda i: (-scores[i], i))
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

    def __init__(self, llm: LLM, registry: TaskRegistry | None = None, *, demos_k: int = 2, max_tasks: int = 10,
                 max_tokens: int = 1024, retry_max_tokens: int | None = None, history_turns: int = 6,
                 max_turn_chars: int = 600, per_task_slots: bool = True,
                 shortlist: bool | TaskShortlist = True) -> None:
        """``max_tasks`` is the schema's ``maxItems`` (what the model is steered to); the hard cap on a plan is the
        context's ``max_tasks`` (config ``max_plan_tasks``). ``retry_max_tokens`` (default: twice ``max_tokens``)
        is the limit of the one re-ask after an answer was cut off at ``max_tokens``. ``shortlist`` shows only the
        tasks that matter for the request (True: the registry's shared ``TaskShortlist``; False: every task)."""
        self.llm = llm
        self.registry = registry or default_registry()
        self.prompts = plan_prompt()
        self.demos = DemoSelector(self.prompts.demos)
        self.demos_k = demos_k
        self.max_tokens = max_tokens
        self.retry_max_tokens = retry_max_tokens or 2 * max_tokens
        self.history_turns = history_turns
        self.max_turn_chars = max_turn_chars
        self.max_tasks = max_tasks
        self.per_task_slots = per_task_slots
        self.schema = plan_json_schema(self.registry, max_tasks=max_tasks, per_task_slots=per_task_slots)
        if shortlist is True:
            self.shortlist: TaskShortlist | None = shortlist_for(self.registry)
        else:
            self.shortlist = shortlist or None

    def shown_tasks(self, request: str, context: PlanContext | None = None) -> list[str] | None:
        """The task names the prompt shows for ``request``; None: every task (no shortlist, or no ranking)."""
        if self.shortlist is None:
            return None
        try:
            names = self.shortlist.select(request, context or PlanContext(registry=self.registry))
        except Exception as exc:  # noqa: BLE001 - the shortlist only saves tokens; planning must go on without it
            log.warning("task shortlist failed, showing every task: %s", exc)
            return None
        return names if names and len(names) < len(self.registry) else None

    def build_messages(self, request: str, context: PlanContext | None = None,
                       tasks: Sequence[str] | None = None) -> list[dict[str, str]]:
        """The chat messages of the planning prompt (system, demos, request with files and history).

        ``tasks`` are the task names to show (default: ``shown_tasks``, the shortlist for this request)."""
        context = context or PlanContext(registry=self.registry)
        if tasks is None:
            tasks = self.shown_tasks(request, context)
        shown = [t for t in self.registry if tasks is None or t.name in tasks]
        system = render(self.prompts.system, signatures=[t.signature() for t in shown])
        messages = [{"role": "system", "content": system}]
        for demo in self.demos.select(request, self.demos_k, context.files, tasks):
            files = [KnownResource(name=f["name"], media=f["media"]) for f in demo.get("files", [])]
            messages.append({"role": "user", "content": render(self.prompts.user, request=demo["request"],
                                                               files=files, history=[])})
            messages.append({"role": "assistant", "content": plan_json(demo["tasks"])})
        history = [{"role": str(turn.get("role", "user")), "content": _clip(str(turn.get("content", "")),
                                                                            self.max_turn_chars)}
                   for turn in context.history[-self.history_turns:]] if self.history_turns else []
        messages.append({"role": "user", "content": render(self.prompts.user, request=request,
                                                           files=context.files, history=history)})
        return messages

    def plan(self, request: str, context: PlanContext | None = None) -> PlanOutcome:
        """Plan ``request``; raises ``PlanError`` (with the problems) when no valid plan comes out after one re-ask.

        An answer cut off at the token limit is asked again once with ``retry_max_tokens`` (on top of the re-ask
        for problems, so at most three calls); cut off again, it is a ``PlanError``. LLM errors other than a bad
        answer (unavailable, auth, quota) propagate unchanged.
        """
        context = context or PlanContext(registry=self.registry)
        tasks = self.shown_tasks(request, context)
        messages = self.build_messages(request, context, tasks)
        schema = self.schema if tasks is None else plan_json_schema(
            self.registry, max_tasks=self.max_tasks, per_task_slots=self.per_task_slots, tasks=tasks)
        raws: list[str] = []
        notes: list[str] = []
        first_issues: list[str] = []
        max_tokens = self.max_tokens
        attempt = 0
        while attempt < 2:
            reply = self._attempt(messages, max_tokens, context.max_tasks, schema)
            raws.append(reply.text)
            if reply.truncated:
                if max_tokens >= self.retry_max_tokens:
                    cut = f"the answer was cut off at the {max_tokens}-token limit (finish_reason=length) again"
                    raise PlanError(f"The LLM's plan was cut off at the token limit ({max_tokens} tokens), and a "
                                    "cut plan is never run.", issues=[*first_issues, cut],
                                    hint="Ask for fewer steps, or use an LLM with a larger output limit.")
                notes.append(f"re-asked: the answer was cut off at the {max_tokens}-token limit "
                             f"(finish_reason=length); asked again with a limit of {self.retry_max_tokens}")
                max_tokens = self.retry_max_tokens
                continue  # the same messages: the cut answer is not shown back, it is not the model's plan
            attempt += 1
            text, problem, issues, plan, repairs = reply.text, reply.problem, reply.issues, reply.plan, reply.repairs
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
                if tasks is not None:
                    notes.append(f"the prompt showed {len(tasks)} of {len(self.registry)} tasks: {', '.join(tasks)}")
                log.info("LLM plan ready", extra={"tasks": len(plan.tasks), "attempts": attempt})
                return PlanOutcome(plan=plan, planner=self.name, notes=notes, raw=raws)
            if attempt == 2:
                break
            # One re-ask, showing the model its own answer and what is wrong with it.
            if text.strip():
                messages = [*messages, {"role": "assistant", "content": text}]
            if problem is not None:
                notes.append(f"re-asked: the first answer was not a usable plan ({problem})")
                reask = render(self.prompts.reask_unparseable, error=problem)
            else:
                first_issues = issues
                notes.append(f"re-asked with {len(issues)} validation problem(s): " + "; ".join(issues))
                reask = render(self.prompts.reask_issues, issues=issues)
            messages = [*messages, {"role": "user", "content": reask}]
        hint = ("Rephrase the request, name the files explicitly, or configure a stronger LLM "
                "(llm.backend: openai) or the offline planner (planner: offline).")
        if problem is not None:
            raise PlanError(f"The LLM did not return a readable plan, even when asked again ({problem}).",
                            issues=[problem], hint=hint)
        raise PlanError("The LLM's plan is invalid and the re-asked plan was too.", issues=issues, hint=hint)

    def _attempt(self, messages: list[dict[str, str]], max_tokens: int, max_tasks: int,
                 schema: dict[str, Any]) -> _Reply:
        """One LLM call, read, repaired and validated (against the whole registry: a task the prompt did not show
        is still a valid task when a server ignores the schema)."""
        try:
            result = self.llm.chat(messages, json_schema=schema, max_tokens=max_tokens, temperature=0.0,
                                   stage="plan")
        except LLMTruncated:  # the whole budget went before any answer text
            return _Reply("", truncated=True)
        except LLMResponseError as exc:
            return _Reply("", problem=f"the LLM gave no usable answer: {exc.message}")
        text = result.text or ""
        if result.finish_reason == "length":
            return _Reply(text, truncated=True)
        try:
            plan, repairs = read_plan(text, self.registry, max_tasks=max_tasks)
        except PlanError as exc:
            return _Reply(text, problem=exc.message)
        issues = [str(i) for i in validate_plan(plan, self.registry)]
        return _Reply(text, issues=issues, plan=plan, repairs=repairs)


@dataclass
class _Reply:
    """What one planning call gave: the raw text and either a problem (unreadable), a cut-off answer, or a repaired
    plan with its validation issues and repair notes."""

    text: str
    problem: str | None = None
    truncated: bool = False
    issues: list[str] = field(default_factory=list)
    plan: Plan | None = None
    repairs: list[str] = field(default_factory=list)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
