"""Helpers shared by the benchmark scripts (not a benchmark: ``run_all.py`` skips files starting with ``_``)."""

from __future__ import annotations


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile of ``values`` by the nearest-rank method (a value that occurred, no interpolation)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]
