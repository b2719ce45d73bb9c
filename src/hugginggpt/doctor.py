"""``hugginggpt doctor``: what is configured and what can run here."""

from __future__ import annotations

from typing import Any

from .agent import HuggingGPT
from .backends.modes import hub_status
from .catalog.selector import Selector


def diagnose(agent: HuggingGPT) -> dict[str, Any]:
    """``{"llm": {...}, "backends": {name: {"available", "reason"}}, "tasks": {task: [available model ids]}}``."""
    try:
        llm_info = dict(agent.llm.describe())
    except Exception as exc:  # noqa: BLE001 - doctor reports, it does not fail
        llm_info = {"available": False, "reason": str(exc)}
    llm_info.setdefault("planner", _planner_name(agent))
    backends: dict[str, dict[str, Any]] = {}
    live = agent.backends()
    for b in live:
        ok, reason = b.status()
        backends[b.name] = {"available": ok, "reason": reason}
    for name, row in _hub_backend_status(agent, live).items():
        backends[name] = row
    tasks: dict[str, list[str]] = {}
    selector = Selector(agent.catalog, live, top_k=100)
    for task in agent.registry.names:
        cands, _ = selector.candidates(task)
        tasks[task] = [c.card.id for c in cands]
    return {"llm": llm_info, "backends": backends, "tasks": tasks,
            "workspace": str(agent.store.root.parent), "inference_mode": agent.config.inference_mode}


def _planner_name(agent: HuggingGPT) -> str:
    try:
        return agent.planner().name
    except Exception as exc:  # noqa: BLE001
        return f"unavailable: {exc}"


def _hub_backend_status(agent: HuggingGPT, live: list[Any]) -> dict[str, dict[str, Any]]:
    """The hub backends (transformers, hf-inference, http): whether they work here, and whether the configured
    inference_mode uses them."""
    return hub_status(agent.config.inference_mode, agent.hub_backends(), live)
