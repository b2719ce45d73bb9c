"""Model choice by the controller LLM (HuggingGPT's stage 2): one constrained call for every task with a choice.

The output schema gives each task its own key whose ``id`` is an enum of that task's candidate model ids, so the LLM
cannot pick a model that is not on offer. Anything unusable falls back to the top-ranked candidate, with the reason.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..errors import LLMError
from ..llm.base import LLM
from ..plan_schema import TaskSpec
from ..prompts import chat_prompt, render

log = logging.getLogger(__name__)

ONLY_CANDIDATE = "the only candidate"


def _candidate_id(candidate: dict[str, Any]) -> str:
    return str(candidate.get("id") or candidate.get("model_id") or candidate.get("model") or "")


def _facts(candidate: dict[str, Any], task: str = "") -> str:
    """A compact line of the facts that help choosing (numbers, backend, tags)."""
    # Kept short on purpose: this line is repeated for every candidate of every task, and JARVIS-style prompts
    # spend most of their selection tokens here. Likes rank popularity as well as downloads do; no likes and a tag
    # that repeats the task's name (the heading of the candidates) say nothing and are left out.
    parts = []
    if candidate.get("likes"):
        parts.append(f"likes={candidate['likes']}")
    for key in ("backend", "language", "languages"):
        if candidate.get(key):
            value = candidate[key]
            parts.append(f"{key}={','.join(map(str, value[:3])) if isinstance(value, list) else value}")
    if candidate.get("local") is not None:
        parts.append("local" if candidate["local"] else "remote")
    tags = [str(t) for t in candidate.get("tags") or () if str(t).lower() != task.lower()]
    if tags:
        parts.append("tags=" + ",".join(tags[:3]))
    return ", ".join(parts)


def _description(candidate: dict[str, Any], limit: int = 80) -> str:
    """The card's one-line description, cut at a word boundary within ``limit`` characters."""
    text = " ".join(str(candidate.get("description") or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def choice_schema(items: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """JSON schema: one required key per task, each ``{"id": <one of its candidates>, "reason": str}``."""
    return {
        "type": "object",
        "properties": {
            key: {"type": "object",
                  "properties": {"id": {"type": "string", "enum": ids}, "reason": {"type": "string", "maxLength": 80}},
                  "required": ["id", "reason"], "additionalProperties": False}
            for key, ids in items
        },
        "required": [key for key, _ in items],
        "additionalProperties": False,
    }


def choose_models(llm: LLM, choices: list[tuple[TaskSpec, list[dict[str, Any]]]], *, request: str = "",
                  max_tokens: int = 512) -> dict[int, tuple[str, str]]:
    """Pick one model per task: ``{task_id: (model_id, reason)}``.

    ``choices`` pairs each task with its ranked candidates (dicts with at least ``id``; ``downloads``, ``likes``,
    ``description``, ``tags``, ``backend``, ``local`` help the LLM). Tasks with one candidate get it without asking;
    tasks with none are left out. Everything else is decided in ONE LLM call (token usage under ``stage="select"``).
    When the LLM fails or answers something unusable, the top-ranked candidate wins and the reason says why.
    """
    chosen: dict[int, tuple[str, str]] = {}
    asked: list[tuple[str, TaskSpec, list[dict[str, Any]]]] = []
    for task, candidates in choices:
        ids = [i for i in dict.fromkeys(_candidate_id(c) for c in candidates) if i]
        if not ids:
            continue
        if len(ids) == 1:
            chosen[task.id] = (ids[0], ONLY_CANDIDATE)
        else:
            asked.append((f"task_{task.id}", task, [c for c in candidates if _candidate_id(c)]))
    if not asked:
        return chosen

    answer: dict[str, Any] = {}
    failure = ""
    try:
        answer = _ask(llm, asked, request, max_tokens)
    except LLMError as exc:
        failure = f"the LLM could not choose ({type(exc).__name__}: {exc.message})"
        log.warning("model choice by LLM failed; using the top-ranked candidates", extra={"error": str(exc)})
    except ValueError as exc:
        failure = f"the LLM's choice was not valid JSON ({exc})"
        log.warning("model choice by LLM unreadable; using the top-ranked candidates", extra={"error": str(exc)})

    for key, task, candidates in asked:
        ids = [_candidate_id(c) for c in candidates]
        given = answer.get(key)
        pick: dict[str, Any] = given if isinstance(given, dict) else {}
        model_id = str(pick.get("id", ""))
        if model_id in ids:
            reason = str(pick.get("reason") or "chosen by the LLM").strip()
            chosen[task.id] = (model_id, reason)
        else:
            why = failure or (f"the LLM chose {model_id!r}, not a candidate" if model_id else
                              "the LLM gave no choice for this task")
            chosen[task.id] = (ids[0], f"top-ranked candidate ({why})")
    return chosen


def _ask(llm: LLM, asked: list[tuple[str, TaskSpec, list[dict[str, Any]]]], request: str,
         max_tokens: int) -> dict[str, Any]:
    prompts = chat_prompt("choose")
    items = [{"key": key, "task": task.task, "args": json.dumps(task.args, ensure_ascii=False),
              "candidates": [{"id": _candidate_id(c), "facts": _facts(c, task.task),
                              "description": _description(c)} for c in candidates]}
             for key, task, candidates in asked]
    messages = [{"role": "system", "content": render(prompts.system)},
                {"role": "user", "content": render(prompts.user, request=request, items=items)}]
    schema = choice_schema([(key, [_candidate_id(c) for c in candidates]) for key, _, candidates in asked])
    result = llm.chat(messages, json_schema=schema, max_tokens=max_tokens, temperature=0.0, stage="select")
    data = json.loads(result.text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data
