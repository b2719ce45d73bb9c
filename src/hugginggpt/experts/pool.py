"""The expert pool: one instance per model, loaded lazily, least recently used unloaded above a memory budget."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from .base import Expert

log = logging.getLogger(__name__)


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class LoadRecord:
    model_id: str
    seconds: float
    rss_delta_mb: float


class ExpertPool:
    """Holds loaded experts. ``get(cls)`` returns a loaded instance; loading past ``budget_mb`` unloads LRU ones.

    Memory is accounted as the growth of the process RSS while an expert loads: rough (shared libraries count
    once, for the first expert that imports them) but measured, not guessed.
    """

    def __init__(self, budget_mb: float = 6144) -> None:
        self.budget_mb = budget_mb
        self._experts: OrderedDict[str, Expert] = OrderedDict()
        self._cost: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.loads: list[LoadRecord] = []

    def _model_lock(self, model_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(model_id, threading.Lock())

    def get(self, cls: type[Expert]) -> Expert:
        mid = cls.model_id
        with self._model_lock(mid):
            with self._lock:
                expert = self._experts.get(mid)
                if expert is not None and expert.loaded:
                    self._experts.move_to_end(mid)
                    return expert
            expert = expert or cls()
            before, t0 = rss_mb(), time.perf_counter()
            expert.load()
            record = LoadRecord(mid, time.perf_counter() - t0, max(0.0, rss_mb() - before))
            self.loads.append(record)
            log.info("loaded %s in %.2fs (+%.0f MiB)", mid, record.seconds, record.rss_delta_mb)
            with self._lock:
                self._experts[mid] = expert
                self._experts.move_to_end(mid)
                self._cost[mid] = record.rss_delta_mb
                self._evict(keep=mid)
            return expert

    def put(self, expert: Expert) -> None:
        """Register an already constructed expert (e.g. one wrapping the controller LLM)."""
        with self._lock:
            self._experts[expert.model_id] = expert

    def _evict(self, keep: str) -> None:
        while self.used_mb > self.budget_mb:
            victim = next((m for m in self._experts if m != keep and self._experts[m].loaded), None)
            if victim is None:
                return
            log.info("unloading %s (pool at %.0f MiB > budget %.0f MiB)", victim, self.used_mb, self.budget_mb)
            self._experts[victim].unload()
            self._cost.pop(victim, None)
            del self._experts[victim]
            gc.collect()

    @property
    def used_mb(self) -> float:
        return sum(self._cost.values())

    def loaded_ids(self) -> list[str]:
        return [m for m, e in self._experts.items() if e.loaded]

    def unload_all(self) -> None:
        with self._lock:
            for expert in self._experts.values():
                if expert.loaded:
                    expert.unload()
            self._experts.clear()
            self._cost.clear()
        gc.collect()
