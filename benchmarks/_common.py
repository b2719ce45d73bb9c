"""Helpers shared by the benchmark scripts (not a benchmark: ``run_all.py`` skips files starting with ``_``)."""

from __future__ import annotations

import os
from pathlib import Path


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile of ``values`` by the nearest-rank method (a value that occurred, no interpolation)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def taskbench_dir() -> Path:
    """Where TaskBench's files are: $HUGGINGGPT_TASKBENCH_DIR, else ../shared/taskbench next to the repository."""
    default = Path(__file__).resolve().parents[2] / "shared" / "taskbench"
    return Path(os.environ.get("HUGGINGGPT_TASKBENCH_DIR", default))
