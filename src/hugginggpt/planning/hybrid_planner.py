"""The hybrid planner: the offline planner proposes the plan, a capable LLM may only review it under a grammar.

The offline planner decides the tasks, their order, their file arguments and every ``<GENERATED>-k`` reference.
The LLM then gets ONE JSON-schema-constrained call (``prompts/hybrid.yaml``) whose schema is built from that
proposal: one key per task (``"t<id>"``) holding ``"keep": "yes" | "no"`` and, optionally, a new value for each of
the task's text slots that holds no reference (an existing literal, or an empty optional text slot to fill). The
LLM therefore cannot invent tasks, files or references: it can only drop proposed tasks and rewrite literal text.

Dropping a task whose output another task uses rewires that use to the dropped task's own input of the same media
type (dropping a denoising step in front of speech recognition feeds the original audio to the recogniser);
without such an input the user is dropped too. The edited plan goes through ``repair_plan`` (which recomputes
``dep``) and ``validate_plan``. Whenever the LLM's answer is unusable (also when it was cut off at the token limit:
a partial review is not a review), drops every task, or makes the plan invalid, the offline plan is used unchanged
and a note says why. A ``PlanError`` of the offline planner (a missing input,
say) is raised as is: the LLM cannot supply files.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

from ..errors import LLMError, PlanError
from ..llm.base import LLM
from ..plan_schema import GENERATED, Plan, TaskSpec, ref_id, refs_in
from ..prompts import chat_prompt, render
from ..tasks import TaskRegistry, default_registry
from .base import PlanContext, Planner, PlanOutcome
from .llm_planner import parse_plan_output
from .offline_planner import OfflinePlanner
from .validate import repair_plan, validate_plan

log = logging.getLogger(__name__)

KEEP, DROP = "yes", "no"
_RESERVED = frozenset({"keep"})  # property names of the edit object that are not slots
_MAX_TEXT = 400  # a rewritten argument is one phrase or sentence; the bound also stops a small model looping


class HybridPlanner:
    """Planner whose plan comes from the offline planner and whose LLM may only keep/drop tasks and rewrite text.

    ``llm`` should be capable (the agent checks); ``offline`` is the proposing planner (a new ``OfflinePlanner``
    by default). LLM calls are made with ``stage="plan"``.
    """

    name = "hybrid"

    def __init__(self, llm: LLM, registry: TaskRegistry | None = None, offline: Planner | None = None, *,
                 max_tokens: int = 512) -> None:
        self.llm = llm
        self.registry = registry or default_registry()
        self.offline: Planner = offline or OfflinePlanner(self.registry)
        self.prompts = chat_prompt("hybrid")
        self.max_tokens = max_tokens

    # -- what the LLM may touch ----------------------------------------------------------------------------------

    def editable_slots(self, task: TaskSpec) -> list[str]:
        """The task's text slots the LLM may rewrite or fill: those that hold no ``<GENERATED>`` reference."""
        if task.task not in self.registry:
            return []
        return [s.name for s in self.registry.get(task.task).inputs
                if s.type == "text" and s.name not in _RESERVED and not refs_in(task.args.get(s.name, ""))]

    def edit_schema(self, plan: Plan) -> dict[str, Any]:
        """The JSON schema of the review: one required key per task; ``keep`` an enum; text slots optional."""
        props: dict[str, Any] = {}
        for t in plan.tasks:
            fields: dict[str, Any] = {"keep": {"type": "string", "enum": [KEEP, DROP]}}
            for slot in self.editable_slots(t):
                fields[slot] = {"type": "string", "minLength": 1, "maxLength": _MAX_TEXT}
            props[f"t{t.id}"] = {"type": "object", "properties": fields, "required": ["keep"],
                                 "additionalProperties": False}
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}

    def build_messages(self, request: str, context: PlanContext, plan: Plan) -> list[dict[str, str]]:
        """The review prompt: the rules (system), then the request, the files and the proposed plan."""
        rows = []
        for t in plan.tasks:
            outputs = self.registry.get(t.task).outputs if t.task in self.registry else ["?"]
            rows.append({"id": t.id, "task": t.task, "output": "+".join(outputs),
                         "args": ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in t.args.items()),
                         "editable": self.editable_slots(t)})
        return [{"role": "system", "content": render(self.prompts.system)},
                {"role": "user", "content": render(self.prompts.user, request=request, files=context.files,
                                                   tasks=rows)}]

    def needs_review(self, plan: Plan) -> bool:
        """Whether the LLM has anything to decide: dropping the only task is refused, so a single task with no
        text to rewrite needs no call."""
        return len(plan.tasks) > 1 or any(self.editable_slots(t) for t in plan.tasks)

    # -- planning -------------------------------------------------------------------------------------------------

    def plan(self, request: str, context: PlanContext | None = None) -> PlanOutcome:
        """The offline proposal, reviewed by the LLM. Raises the offline planner's ``PlanError`` unchanged."""
        context = context or PlanContext(registry=self.registry)
        proposal = self.offline.plan(request, context)  # PlanError propagates: the LLM cannot supply inputs
        notes = [f"offline: {n}" for n in proposal.notes]
        if not self.needs_review(proposal.plan):
            notes.append("hybrid: nothing for the LLM to decide; the offline plan is used as is")
            return PlanOutcome(plan=proposal.plan, planner=self.name, notes=notes, raw=None)
        messages = self.build_messages(request, context, proposal.plan)
        schema = self.edit_schema(proposal.plan)
        budget = min(self.max_tokens, 24 + 12 * len(proposal.plan.tasks)
                     + 100 * sum(len(self.editable_slots(t)) for t in proposal.plan.tasks))
        try:
            result = self.llm.chat(messages, json_schema=schema, max_tokens=budget, temperature=0.0, stage="plan")
        except LLMError as exc:
            log.warning("hybrid review failed; using the offline plan: %s", exc)
            return self._fallback(proposal.plan, notes, f"the LLM gave no answer ({type(exc).__name__}: "
                                                        f"{exc.message})", None)
        text = result.text or ""
        if result.finish_reason == "length":
            return self._fallback(proposal.plan, notes, f"the LLM's review was cut off at the {budget}-token limit",
                                  text)
        try:
            edited, edit_notes = self.apply_edit(proposal.plan, text)
        except (ValueError, PlanError) as exc:  # PlanError: a review over the size or nesting limits
            return self._fallback(proposal.plan, notes, f"the LLM's review was unusable ({exc})", text)
        issues = [str(i) for i in validate_plan(edited, self.registry)]
        if issues:
            return self._fallback(proposal.plan, notes, "the reviewed plan was invalid: " + "; ".join(issues), text)
        notes.extend(f"hybrid: {n}" for n in edit_notes)
        if not edit_notes:
            notes.append("hybrid: the LLM kept the offline plan unchanged")
        log.info("hybrid plan ready", extra={"tasks": len(edited.tasks), "edits": len(edit_notes)})
        return PlanOutcome(plan=edited, planner=self.name, notes=notes, raw=text)

    def _fallback(self, plan: Plan, notes: list[str], why: str, raw: str | None) -> PlanOutcome:
        notes.append(f"hybrid: kept the offline plan: {why}")
        return PlanOutcome(plan=plan, planner=self.name, notes=notes, raw=raw)

    def apply_edit(self, plan: Plan, text: str) -> tuple[Plan, list[str]]:
        """Apply the LLM's review (JSON text) to ``plan``; returns the repaired plan and what changed.

        Raises ``ValueError`` when the answer is not a review of this plan, or drops every task; ``PlanTooLarge``
        when the answer is over the limits of ``parse_plan_output``.
        """
        try:
            answer = parse_plan_output(text)  # bare, fenced or after prose (backends without schema support)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if not isinstance(answer, dict):
            raise ValueError("expected a JSON object with one key per task")
        unknown = sorted(set(answer) - {f"t{t.id}" for t in plan.tasks})
        if unknown or not answer:
            raise ValueError(f"keys {unknown} name no task of the plan" if unknown else "empty answer")
        notes: list[str] = []
        tasks = {t.id: copy.deepcopy(t.model_dump()) for t in plan.tasks}
        dropped: set[int] = set()
        for t in plan.tasks:
            item = answer.get(f"t{t.id}")
            if not isinstance(item, dict):
                notes.append(f"no review of task {t.id}; kept")
                continue
            if _is_drop(item.get("keep")):
                dropped.add(t.id)
                continue
            for slot in self.editable_slots(t):
                value = item.get(slot)
                if not isinstance(value, str) or not value.strip() or value.strip() == t.args.get(slot, ""):
                    continue
                value = value.strip()[:_MAX_TEXT]
                if GENERATED in value or refs_in(value):
                    notes.append(f"task {t.id}: ignored a new {slot!r} holding a reference")
                    continue
                tasks[t.id]["args"][slot] = value
                notes.append(f"task {t.id} ({t.task}): {slot!r} {'rewritten' if slot in t.args else 'filled'}")
        if len(dropped) == len(tasks):
            raise ValueError("it dropped every task the offline planner found")
        notes += self._drop(tasks, dropped)
        if not tasks:
            raise ValueError("dropping the chosen tasks left nothing to run")
        repaired, repairs = repair_plan(list(tasks.values()), self.registry)
        return repaired, notes + repairs

    def _drop(self, tasks: dict[int, dict[str, Any]], dropped: set[int]) -> list[str]:
        """Remove ``dropped`` from ``tasks``, rewiring or cascading their users (in place); returns notes."""
        notes: list[str] = []
        pending = set(dropped)
        removed: dict[int, dict[str, Any]] = {}
        while pending:
            tid = pending.pop()
            removed[tid] = tasks.pop(tid)
            notes.append(f"dropped task {tid} ({removed[tid]['task']})")
            for other in list(tasks.values()):
                for slot, value in list(other["args"].items()):
                    if ref_id(value) != tid:
                        continue
                    media = self._slot_media(other["task"], slot)
                    substitute = self._input_of(removed[tid], media)
                    if substitute is not None:
                        other["args"][slot] = substitute
                        notes.append(f"task {other['id']}: {slot!r} now takes {substitute!r} (the input of the "
                                     f"dropped task {tid})")
                    elif other["id"] in tasks and other["id"] not in pending:
                        pending.add(other["id"])
                        notes.append(f"task {other['id']} needs the output of the dropped task {tid}; dropped too")
        return notes

    def _slot_media(self, task: str, slot: str) -> str:
        if task in self.registry and (s := self.registry.get(task).slot(slot)) is not None:
            return s.type
        return "text"

    def _input_of(self, task: dict[str, Any], media: str) -> str | None:
        """The dropped task's own input of ``media`` (a literal or a reference to a task still in the plan)."""
        for slot, value in task["args"].items():
            if self._slot_media(task["task"], slot) == media and value.strip():
                return str(value)
        return None


def _is_drop(value: Any) -> bool:
    """``keep`` says drop: "no" (the schema's value), or false / "drop" from a backend without schema support."""
    if isinstance(value, bool):
        return not value
    return isinstance(value, str) and value.strip().lower() in ("no", "drop", "false")
