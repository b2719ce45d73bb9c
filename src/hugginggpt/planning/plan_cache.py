"""The plan cache: an LLM plan (``planner: llm`` or ``hybrid``) reused for the same request on the same files.

The key is a SHA-256 over the planner's name, the request, the earlier turns, the LLM (backend name, model name,
base URL), the prompt version (a hash of the prompt files and of the task signatures the planning prompt shows), the
plan size limit, and the bytes of every file the plan may use: the known files (attached or earlier outputs) and
each token of the request that names an existing file. A file is keyed by the SHA-256 of its content, never by its
name alone, so a plan is never served across different files. The value is the plan, its notes and the planning
tokens it cost; a hit costs no LLM call and says so in the plan notes (``PLAN_CACHE_NOTE``).

Entries live in the workspace cache (``<workspace>/cache``, shared with the result cache, same size bound). The
offline planner is never wrapped: it is free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from ..cachestore import file_sha256, put, record, workspace_cache
from ..config import HuggingGPTConfig
from ..llm.base import LLM
from ..plan_schema import Plan
from ..prompts import prompt_version as prompt_files_version
from ..tasks import TaskRegistry
from .base import PlanContext, Planner, PlanOutcome

log = logging.getLogger(__name__)

KEY_VERSION = 1
PLAN_CACHE_NOTE = "plan from the plan cache"


def prompt_version(registry: TaskRegistry | None = None) -> str:
    """A hash of the prompt files (``hugginggpt/prompts``) and of the task signatures the planning prompt shows."""
    digest = hashlib.sha256(prompt_files_version().encode())
    if registry is not None:
        for task in registry:
            digest.update(str(task.signature()).encode())
    return digest.hexdigest()[:16]


def llm_identity(llm: LLM) -> str:
    """Backend name, model name and base URL of an LLM (a model property may ask the server once)."""
    parts = [str(getattr(llm, "name", ""))]
    for attr in ("model", "base_url"):
        try:
            parts.append(str(getattr(llm, attr, "") or ""))
        except Exception:  # noqa: BLE001 - an unreachable server: the key still names the backend
            parts.append("?")
    return "|".join(parts)


_TOKEN = re.compile(r"[^\s\"'`<>()\[\]{},;|]+")


class CachedPlanner:
    """Wraps an LLM planner: the same request on the same files, model and prompts gets the stored plan."""

    def __init__(self, inner: Planner, llm: LLM, cache: Any, *, base_dir: Path, registry: TaskRegistry) -> None:
        self.inner = inner
        self.llm = llm
        self.cache = cache
        self.base_dir = Path(base_dir)
        self.registry = registry
        self.name = inner.name

    def _file(self, name: str) -> str | None:
        path = Path(name).expanduser()
        path = path if path.is_absolute() else self.base_dir / path
        try:
            return file_sha256(path) if path.is_file() else None
        except OSError:
            return None

    def key(self, request: str, context: PlanContext) -> str:
        files = [[f.name, f.media, f.origin, f.description, self._file(f.name)] for f in context.files]
        named = []
        for raw in _TOKEN.findall(request):
            token = raw.rstrip(":!?.")
            if "." in token or "/" in token:
                sha = self._file(token)
                if sha is not None:
                    named.append([token, sha])
        body = {"v": KEY_VERSION, "planner": self.inner.name, "request": request,
                "history": [[str(t.get("role", "")), str(t.get("content", ""))] for t in context.history],
                "llm": llm_identity(self.llm), "prompts": prompt_version(self.registry),
                "max_tasks": context.max_tasks, "files": files, "named": named}
        return "plan:" + hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def plan(self, request: str, context: PlanContext) -> PlanOutcome:
        try:
            key = self.key(request, context)
            value = self.cache.get(key)
        except Exception as exc:  # noqa: BLE001 - a broken cache: plan as if there were none
            log.warning("plan cache: lookup failed (%s: %s); planning uncached", type(exc).__name__, exc)
            return self.inner.plan(request, context)
        hit = _unpack(value) if value is not None else None
        record(hit is not None, "plan")
        if hit is not None:
            outcome, tokens = hit
            outcome.notes.append(f"{PLAN_CACHE_NOTE}: 0 planning tokens spent ({tokens} saved)")
            return outcome
        before = _plan_tokens(self.llm)
        outcome = self.inner.plan(request, context)
        try:
            put(self.cache, key, {"tasks": [t.model_dump(mode="json") for t in outcome.plan.tasks],
                                 "planner": outcome.planner, "notes": list(outcome.notes),
                                 "tokens": max(0, _plan_tokens(self.llm) - before)})
        except Exception as exc:  # noqa: BLE001 - the plan stands even when it cannot be stored
            log.warning("plan cache: storing failed (%s: %s)", type(exc).__name__, exc)
        return outcome


def _plan_tokens(llm: LLM) -> int:
    """Planning tokens counted so far by a run's tracked LLM (0 when it does not count)."""
    stage = (getattr(getattr(llm, "usage", None), "by_stage", None) or {}).get("plan") or {}
    return int(stage.get("prompt_tokens", 0)) + int(stage.get("completion_tokens", 0))


def _unpack(value: Any) -> tuple[PlanOutcome, int] | None:
    try:
        plan = Plan.model_validate({"tasks": value["tasks"]})
        return PlanOutcome(plan=plan, planner=str(value["planner"]), notes=list(value["notes"])), int(value["tokens"])
    except Exception:  # noqa: BLE001 - an entry of an older layout is a miss
        return None


def cached_planner(planner: Planner, llm: LLM, config: HuggingGPTConfig, shared: dict[str, Any], base_dir: Path,
                   registry: TaskRegistry) -> Planner:
    """``planner`` behind the plan cache when ``cache.plans`` is on; ``planner`` itself otherwise."""
    if not config.cache.plans:
        return planner
    return CachedPlanner(planner, llm, workspace_cache(config, shared), base_dir=base_dir, registry=registry)
