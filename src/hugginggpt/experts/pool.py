"""The expert pool: one instance per model, loaded lazily, idle ones unloaded while the process is over its budget.

Memory is the *measured* resident size of the process (RSS), not an estimate: after every load and at the end of
every leased call, while the RSS is above ``budget_mb`` the least recently used *idle* model is unloaded. Two kinds
of model count:

- experts held by the pool (``get``), and
- process-wide models created outside it (the ``SharedModel`` singletons, MiniLM, spaCy, the OCR engine), which
  register themselves with :func:`hugginggpt.residents.register_resident` so that they can be released too.

A model in use is never unloaded: callers take a *lease* for the duration of a call (``with pool.leasing(): ...``
around ``get`` and ``run``), and shared models are busy while their lock is held. When nothing idle is left and the
RSS is still above the budget (imported libraries, the model in use), the pool says so in the log and goes on.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..progress import slow_step
from ..residents import residents
from .base import Expert
from .workers import ExpertWorkers

log = logging.getLogger(__name__)


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return 0.0


def _trim_heap() -> None:
    """Ask glibc to give freed heap pages back to the system (else RSS stays high after an unload)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


@dataclass
class LoadRecord:
    model_id: str
    seconds: float
    rss_delta_mb: float


@dataclass
class EvictionRecord:
    name: str
    rss_before_mb: float
    rss_after_mb: float


class ExpertPool:
    """Holds loaded experts. ``get(cls)`` returns a loaded instance (leased when inside ``leasing()``)."""

    def __init__(self, budget_mb: float = 6144, *, rss: Callable[[], float] = rss_mb) -> None:
        self.budget_mb = budget_mb
        self._rss = rss
        self._experts: OrderedDict[str, Expert] = OrderedDict()  # least recently used first
        self._leases: Counter[str] = Counter()
        self._used: dict[str, float] = {}  # model id -> last monotonic time it was got or released
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.RLock()
        self._evicting = threading.Lock()
        self._local = threading.local()
        self._warned_at = 0.0
        # the most recent loads and unloads (bounded: a long-lived server under a tight budget does many)
        self.loads: deque[LoadRecord] = deque(maxlen=1000)
        self.evictions: deque[EvictionRecord] = deque(maxlen=1000)
        self._workers: ExpertWorkers | None = None

    @property
    def workers(self) -> ExpertWorkers:
        """The worker threads expert calls run in: a small bounded pool of daemon threads per model id."""
        if self._workers is None:
            with self._lock:
                if self._workers is None:
                    self._workers = ExpertWorkers()
        return self._workers

    # ----- leases -------------------------------------------------------------------------------------------------
    @contextmanager
    def leasing(self) -> Iterator[None]:
        """Every expert this thread gets from the pool inside the block is leased (never unloaded) until the block
        ends; then the budget is enforced."""
        stack: list[list[str]] = self._local.__dict__.setdefault("scopes", [])
        stack.append([])
        try:
            yield
        finally:
            taken = stack.pop()
            with self._lock:
                for mid in taken:
                    self._leases[mid] -= 1
                    if self._leases[mid] <= 0:
                        del self._leases[mid]
                    if mid in self._experts:
                        self._experts.move_to_end(mid)
                        self._used[mid] = time.monotonic()
            self.enforce()

    @contextmanager
    def lease(self, cls: type[Expert]) -> Iterator[Expert]:
        """``with pool.lease(cls) as expert: expert.run(...)``: the expert stays loaded for the block."""
        with self.leasing():
            yield self.get(cls)

    def _take(self, mid: str) -> None:  # under self._lock
        stack = getattr(self._local, "scopes", None)
        if stack:
            stack[-1].append(mid)
            self._leases[mid] += 1

    def in_use(self) -> dict[str, int]:
        with self._lock:
            return dict(self._leases)

    # ----- get / put ----------------------------------------------------------------------------------------------
    def _model_lock(self, model_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(model_id, threading.Lock())

    def get(self, cls: type[Expert]) -> Expert:
        """The loaded expert of ``cls`` (an expert class of one model, built with no arguments)."""
        return self.get_or_make(cls.model_id, cls)

    def get_or_make(self, mid: str, make: Callable[[], Expert]) -> Expert:
        """The loaded expert of model ``mid``; ``make`` builds it when the pool holds none (then it is loaded)."""
        with self._model_lock(mid):
            with self._lock:
                held = self._experts.get(mid)
            made = held if held is not None else make()  # outside the pool's lock: building may look files up
            with self._lock:
                expert = self._experts.setdefault(mid, made)
                self._experts.move_to_end(mid)
                self._used[mid] = time.monotonic()
                self._take(mid)
                self._leases[f"loading:{mid}"] += 1  # not evictable while it loads, leased or not
            try:
                if not expert.loaded:
                    before, t0 = self._rss(), time.perf_counter()
                    with slow_step(f"load:{mid}", f"loading {mid}"):  # announced when it takes over a second
                        expert.load()
                    record = LoadRecord(mid, time.perf_counter() - t0, max(0.0, self._rss() - before))
                    self.loads.append(record)
                    log.info("loaded %s in %.2fs (+%.0f MiB, process %.0f MiB)", mid, record.seconds,
                             record.rss_delta_mb, self._rss())
            except BaseException:
                with self._lock:
                    if not expert.loaded and not self._leases.get(mid):
                        self._experts.pop(mid, None)
                raise
            finally:
                with self._lock:
                    self._leases[f"loading:{mid}"] -= 1
                    if self._leases[f"loading:{mid}"] <= 0:
                        del self._leases[f"loading:{mid}"]
        self.enforce()
        return expert

    def put(self, expert: Expert) -> None:
        """Register an already constructed expert (e.g. one wrapping the controller LLM)."""
        with self._lock:
            self._experts[expert.model_id] = expert

    # ----- the budget ---------------------------------------------------------------------------------------------
    def enforce(self) -> list[str]:
        """While the process RSS is above the budget, unload the least recently used idle model (experts of this
        pool and registered residents). Returns what was unloaded."""
        if self._rss() <= self.budget_mb or not self._evicting.acquire(blocking=False):
            return []  # under budget, or another thread is already evicting
        unloaded: list[str] = []
        try:
            for name, _, unload in self._candidates():
                before = self._rss()
                if before <= self.budget_mb:
                    break
                if not unload():
                    continue
                gc.collect()
                _trim_heap()
                after = self._rss()
                self.evictions.append(EvictionRecord(name, round(before, 1), round(after, 1)))
                unloaded.append(name)
                log.info("unloaded %s (process %.0f -> %.0f MiB, budget %.0f MiB)", name, before, after,
                         self.budget_mb)
            rss = self._rss()
            if rss > self.budget_mb and time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("process memory %.0f MiB is above memory_budget_mb %.0f with nothing idle left to "
                            "unload (in use: %s)", rss, self.budget_mb, ", ".join(self.in_use()) or "none")
        finally:
            self._evicting.release()
        return unloaded

    def _candidates(self) -> list[tuple[str, float, Callable[[], bool]]]:
        """Idle models, least recently used first: (name, last use, unload function returning success)."""
        with self._lock:
            experts = [(mid, self._used.get(mid, 0.0)) for mid, e in self._experts.items() if e.loaded]
        out: list[tuple[str, float, Callable[[], bool]]] = []
        for mid, used in experts:
            out.append((mid, used, partial(self._unload_idle, mid)))
        for res in residents():
            if res.is_loaded():
                out.append((res.name, res.last_used, res.release))
        out.sort(key=lambda c: c[1])
        return out

    def _unload_idle(self, mid: str) -> bool:
        with self._lock:
            expert = self._experts.get(mid)
            if expert is None or not expert.loaded or self._leases.get(mid) or self._leases.get(f"loading:{mid}"):
                return False
            expert.unload()
            del self._experts[mid]
            return True

    # ----- what is held -------------------------------------------------------------------------------------------
    @property
    def used_mb(self) -> float:
        """The measured resident memory of the process (what the budget is compared with)."""
        return self._rss()

    def loaded_ids(self) -> list[str]:
        with self._lock:
            return [m for m, e in self._experts.items() if e.loaded]

    def stats(self) -> dict[str, Any]:
        """Budget, measured RSS, loaded experts and residents, leases and the eviction count."""
        return {"budget_mb": self.budget_mb, "accounted_mb": round(self._rss(), 1), "experts": self.loaded_ids(),
                "residents": [r.name for r in residents() if r.is_loaded()], "in_use": self.in_use(),
                "evictions": len(self.evictions)}

    def unload_all(self) -> None:
        """Unload every idle expert of this pool (leased ones stay)."""
        with self._lock:
            for mid in list(self._experts):
                if not self._unload_idle(mid):
                    expert = self._experts[mid]
                    if not expert.loaded:
                        del self._experts[mid]
        gc.collect()
        _trim_heap()
