"""The prompt of the final answer (HuggingGPT's stage 4), built from ``prompts/respond.yaml``."""

from __future__ import annotations

import json
from typing import Any

from .media import looks_like_resource
from .plan_schema import Plan
from .prompts import chat_prompt, render


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Plan):
        value = value.to_jarvis()
    if isinstance(value, list):  # one item per line: compact for the model, still easy to follow
        return "\n".join(_result_line(item) if _is_result_row(item) else _compact(item) for item in value)
    return _compact(value)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _is_result_row(item: Any) -> bool:
    return isinstance(item, dict) and "task" in item and "status" in item


def _result_line(row: dict[str, Any]) -> str:
    """One task's result as a line of plain words (a JSON object per task costs the LLM about twice the tokens):
    ``task 0 image-to-text (model): ok; text: "a cat"; image: public/images/x.png; facts: {...}``."""
    head = f"task {row.get('id', '?')} {row['task']}" + (f" ({row['model']})" if row.get("model") else "")
    parts = [f"{head}: {row['status']}"]
    outputs = row.get("outputs") or []
    for out in outputs if isinstance(outputs, list) else [outputs]:
        if isinstance(out, dict) and out.get("type") == "text" and "text" in out:
            parts.append("text: " + json.dumps(str(out["text"]), ensure_ascii=False))
        elif isinstance(out, dict) and "file" in out:
            parts.append(f"{out.get('type', 'file')}: {out['file']}")
        else:
            parts.append(_compact(out))
    parts += [f"{key}: {value if isinstance(value, str) else _compact(value)}" for key, value in row.items()
              if key not in ("id", "task", "model", "status", "outputs")]
    return "; ".join(parts)


def files_in(value: Any) -> list[str]:
    """Every string in a (nested) results structure that names a file or URL, in order, without duplicates."""
    found: dict[str, None] = {}

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if looks_like_resource(v):
                found.setdefault(v.strip(), None)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(value)
    return list(found)


def build_response_messages(request: str, plan: Plan | list[dict[str, Any]] | None, results: Any, *,
                            files: list[str] | None = None,
                            history: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
    """Chat messages asking the LLM to answer ``request`` from ``results`` only.

    ``results`` is a compact summary (text, or JSON-able data: per task its model, status, outputs, error).
    ``files`` are the artifact paths the answer may cite; by default, the file paths found in ``results``.
    ``history`` (earlier turns) is put before the request so follow-up questions read naturally.
    """
    prompts = chat_prompt("respond")
    allowed = files if files is not None else files_in(results)
    user = render(prompts.user, request=request, plan=_to_text(plan) if plan else "",
                  results=_to_text(results) or "(no results)", files=allowed)
    messages = [{"role": "system", "content": render(prompts.system)}]
    for turn in history or []:
        messages.append({"role": str(turn.get("role", "user")), "content": str(turn.get("content", ""))})
    messages.append({"role": "user", "content": user + _failures_instruction(results)})
    return messages


def _failures_instruction(results: Any) -> str:
    """When tasks failed or were skipped, say so in the prompt: each must be reported, none glossed over (the
    responder still appends any the answer leaves out)."""
    if not isinstance(results, list):
        return ""
    rows = [r for r in results if isinstance(r, dict) and r.get("status") in ("failed", "skipped")]
    if not rows:
        return ""
    listed = "; ".join(f"task {r.get('id')} ({r.get('task')}) {r.get('status')}" for r in rows)
    return (f"\n\nNot every task succeeded: {listed}. Say plainly which tasks failed or were skipped and why; "
            "do not say that all tasks succeeded.")
