"""Prometheus metrics (served by the server at ``/metrics``; docs/observability.md).

Two kinds:

* process-wide counters that code anywhere increments without a handle: LLM tokens and calls by stage
  (``record_llm_call``, from every controller LLM call), cache hits and misses (``record_cache``); they live in
  ``PROCESS_REGISTRY``, with the process collector (memory, CPU, open files);
* per server (``ServerMetrics``, one registry per app): runs and tasks by status, run, stage and task latency
  histograms (fed by ``observe(run_id, event)`` from the run manager's event stream, so the agent needs no
  hooks), and, read at scrape time, queue depth and runs in flight, and the expert pool's memory, loaded experts
  and evictions. Its registry also serves the process-wide counters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.process_collector import ProcessCollector

__all__ = ["CONTENT_TYPE", "PROCESS_REGISTRY", "ServerMetrics", "record_cache", "record_llm_call"]

# The classic text format (every metric name here is a legacy one): understood by every Prometheus version.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=PROCESS_REGISTRY)

LLM_TOKENS = Counter("hugginggpt_llm_tokens", "Controller LLM tokens by stage (plan, select, execute, respond, "
                     "other) and kind (prompt, completion).", ["stage", "kind"], registry=PROCESS_REGISTRY)
LLM_CALLS = Counter("hugginggpt_llm_calls", "Controller LLM calls by stage and outcome (ok, error).",
                    ["stage", "outcome"], registry=PROCESS_REGISTRY)
CACHE_HITS = Counter("hugginggpt_cache_hits", "Cache lookups answered from the cache, by cache kind.", ["kind"],
                     registry=PROCESS_REGISTRY)
CACHE_MISSES = Counter("hugginggpt_cache_misses", "Cache lookups not in the cache, by cache kind.", ["kind"],
                       registry=PROCESS_REGISTRY)

TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
RUN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TASK_DONE = ("ok", "failed", "skipped")
MB = 1024 * 1024


def record_cache(hit: bool, kind: str) -> None:
    """Count one cache lookup of ``kind`` (e.g. ``result``, ``plan``) as a hit or a miss."""
    (CACHE_HITS if hit else CACHE_MISSES).labels(kind=kind).inc()


def record_llm_call(stage: str, prompt_tokens: int, completion_tokens: int, *, ok: bool = True) -> None:
    """Count one controller LLM call of ``stage`` and its tokens."""
    LLM_CALLS.labels(stage=stage, outcome="ok" if ok else "error").inc()
    if prompt_tokens:
        LLM_TOKENS.labels(stage=stage, kind="prompt").inc(prompt_tokens)
    if completion_tokens:
        LLM_TOKENS.labels(stage=stage, kind="completion").inc(completion_tokens)


class _Forward:
    """Serves another registry's metrics from this one (the process-wide counters in every app's registry)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


class _RunState:
    __slots__ = ("models", "stages", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.models: dict[int, str] = {}
        self.stages: dict[str, float] = {}


class ServerMetrics:
    """The metrics of one server app, in their own registry (``exposition()`` is the ``/metrics`` body)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = Counter("hugginggpt_runs", "Finished runs by status (succeeded, partial, failed, interrupted).",
                            ["status"], registry=r)
        self.run_seconds = Histogram("hugginggpt_run_duration_seconds", "Run time from start (after the queue) to "
                                     "answer, by status.", ["status"], buckets=RUN_BUCKETS, registry=r)
        self.stage_seconds = Histogram("hugginggpt_stage_duration_seconds", "Stage time by stage.", ["stage"],
                                       buckets=RUN_BUCKETS, registry=r)
        self.tasks = Counter("hugginggpt_tasks", "Finished tasks by task type and status (ok, failed, skipped).",
                             ["task", "status"], registry=r)
        self.task_seconds = Histogram("hugginggpt_task_duration_seconds", "Task time (input resolution, expert "
                                      "call, output checks) by task type and model.", ["task", "model"],
                                      buckets=TASK_BUCKETS, registry=r)
        self._state: dict[str, _RunState] = {}
        self._lock = threading.Lock()
        if process:
            r.register(_Forward(PROCESS_REGISTRY))

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    # ----- runs and tasks, from events --------------------------------------------------------------------------
    def observe(self, run_id: str, event: dict[str, Any]) -> None:
        """Count what one run event says (the server's run events: ``run`` running, agent ``stage``/``task``
        events, the final ``answer``)."""
        kind, status = event.get("kind"), event.get("status", "")
        at = float(event.get("at") or 0.0)
        with self._lock:
            if kind == "run" and status == "running":
                self._state[run_id] = _RunState(at)
            elif kind == "stage":
                self._stage(run_id, event, at)
            elif kind == "task" and status in TASK_DONE:
                self._task(run_id, event)
            elif kind == "answer":
                state = self._state.pop(run_id, None)
                self.runs.labels(status=status or "unknown").inc()
                if state is not None and at >= state.started:
                    self.run_seconds.labels(status=status or "unknown").observe(at - state.started)

    @property
    def in_flight(self) -> int:
        """Runs started and not finished (past the queue)."""
        return len(self._state)

    def _stage(self, run_id: str, event: dict[str, Any], at: float) -> None:
        state = self._state.get(run_id)
        stage = str(event.get("stage") or "")
        if state is None or not stage:
            return
        if event.get("status") == "running":
            state.stages[stage] = at
        elif event.get("status") == "done" and stage in state.stages:
            self.stage_seconds.labels(stage=stage).observe(max(0.0, at - state.stages.pop(stage)))
        if stage == "select" and event.get("status") == "done":
            for tid, choice in ((event.get("data") or {}).get("choices") or {}).items():
                if isinstance(choice, dict) and choice.get("model_id"):
                    state.models[int(tid)] = str(choice["model_id"])

    def _task(self, run_id: str, event: dict[str, Any]) -> None:
        task, status = str(event.get("task") or "unknown"), str(event.get("status"))
        self.tasks.labels(task=task, status=status).inc()
        seconds = (event.get("data") or {}).get("seconds")
        if status != "skipped" and isinstance(seconds, int | float):
            state = self._state.get(run_id)
            model = state.models.get(int(event.get("task_id") or 0), "none") if state else "none"
            self.task_seconds.labels(task=task, model=model).observe(float(seconds))

    # ----- read at scrape time ----------------------------------------------------------------------------------
    def watch_runs(self, active: Callable[[], int]) -> None:
        """Gauges of the run queue: ``active()`` is the number of runs queued or running (the run manager's)."""
        self.registry.register(_RunsCollector(self, active))

    def watch_pool(self, pool: Any) -> None:
        """Gauges and the eviction counter of an ``ExpertPool`` (read from its ``stats()`` at scrape time)."""
        self.registry.register(PoolCollector(pool))


class _RunsCollector:
    def __init__(self, metrics: ServerMetrics, active: Callable[[], int]) -> None:
        self.metrics, self.active = metrics, active

    def collect(self) -> Iterator[Metric]:
        running = self.metrics.in_flight
        yield GaugeMetricFamily("hugginggpt_runs_in_flight", "Runs executing now.", value=running)
        yield GaugeMetricFamily("hugginggpt_run_queue_depth", "Runs accepted and waiting for a free slot "
                                "(server.max_concurrent_runs).", value=max(0, self.active() - running))


class PoolCollector:
    """The expert pool's memory and loaded models; evictions as a counter (the pool keeps the last 1000 records:
    the count here goes on past that, as long as fewer than 1000 happen between two scrapes)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._total = 0
        self._last: Any = None
        self._lock = threading.Lock()

    def _evictions(self) -> int:
        records = list(self.pool.evictions)
        with self._lock:
            new = len(records)
            for i in range(len(records) - 1, -1, -1):
                if records[i] is self._last:
                    new = len(records) - 1 - i
                    break
            self._total += new
            if records:
                self._last = records[-1]
            return self._total

    def collect(self) -> Iterator[Metric]:
        stats = self.pool.stats()
        yield GaugeMetricFamily("hugginggpt_expert_pool_memory_bytes", "Resident memory of the process as the "
                                "expert pool measures it against its budget.", value=stats["accounted_mb"] * MB)
        yield GaugeMetricFamily("hugginggpt_expert_pool_budget_bytes", "The memory budget (memory_budget_mb).",
                                value=stats["budget_mb"] * MB)
        yield GaugeMetricFamily("hugginggpt_expert_pool_loaded_experts", "Experts (and residents such as the "
                                "controller LLM) loaded now.", value=len(stats["experts"]) + len(stats["residents"]))
        yield GaugeMetricFamily("hugginggpt_expert_pool_in_use", "Experts leased by a running call now.",
                                value=len(stats["in_use"]))
        evictions = CounterMetricFamily("hugginggpt_expert_pool_evictions", "Idle models unloaded to keep the "
                                        "process under its memory budget.")
        evictions.add_metric([], self._evictions())
        yield evictions
