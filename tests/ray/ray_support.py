"""Helpers of the Ray engine's tests (imported by name: this directory is on sys.path and the workers' PYTHONPATH).

This directory has no ``__init__.py`` on purpose: ``tests`` is on ``sys.path``, and a package named ``ray`` there
would hide the real Ray.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NAMESPACE = "hugginggpt-test"


def worker_path() -> str:
    """PYTHONPATH for Ray's worker processes: they import ``ray_fault_experts`` (and ``planner_doubles``)."""
    return os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)


def psutil_module() -> Any:
    """psutil: Ray ships it (importing Ray puts its bundled copy on sys.path); hugginggpt does not depend on it."""
    importlib.import_module("ray")
    return importlib.import_module("psutil")


def cpu_seconds(procs: list[Any]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil_module().Error:
            continue
    return total


def kill_named_actors(ray: object) -> None:
    """Kill the expert actors the last test left (they are detached: they outlive the agent that made them)."""
    for name in ray.util.list_named_actors():  # type: ignore[attr-defined]
        try:
            ray.kill(ray.get_actor(name), no_restart=True)  # type: ignore[attr-defined]
        except ValueError:  # already gone
            pass
