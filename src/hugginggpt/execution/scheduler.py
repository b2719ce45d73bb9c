"""An event-driven DAG scheduler on asyncio.

Each task is a coroutine that awaits the futures of the tasks it depends on, so it starts the moment its last input
exists (no polling). A semaphore caps how many run at once; each task has a timeout, and the run a deadline (no task
runs past it); a failed task makes its dependants ``skipped`` with the reason while independent branches go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from opentelemetry import trace

from ..errors import TaskTimeout
from ..observability.spans import record_task
from ..plan_schema import Plan, TaskSpec
from ..results import ErrorInfo, Event, ModelChoice, TaskResult

log = logging.getLogger(__name__)
tracer = trace.get_tracer("hugginggpt")

# Runs one task whose dependencies all succeeded; returns its result (status ok) or raises.
TaskFn = Callable[[TaskSpec, dict[int, TaskResult]], Awaitable[TaskResult]]
EmitFn = Callable[[Event], None]


class Scheduler:
    """Runs a plan with ``run_task`` for each task; returns results in plan order."""

    def __init__(self, run_task: TaskFn, *, max_parallel: int = 2, task_timeout: float = 300.0,
                 emit: EmitFn | None = None, deadline: float | None = None,
                 choices: Mapping[int, Any] | None = None) -> None:
        """``deadline``: a ``time.monotonic()`` value by which every task has ended (the run's ``run_timeout``).
        ``choices``: the selected model per task id, shown on the results of tasks that failed or timed out."""
        self.run_task = run_task
        self.max_parallel = max(1, max_parallel)
        self.task_timeout = task_timeout
        self.deadline = deadline
        self.emit = emit or (lambda event: None)
        self.choices = choices or {}

    async def run(self, plan: Plan) -> list[TaskResult]:
        loop = asyncio.get_running_loop()
        done: dict[int, asyncio.Future[TaskResult]] = {t.id: loop.create_future() for t in plan.tasks}
        gate = asyncio.Semaphore(self.max_parallel)

        async def one(spec: TaskSpec) -> None:
            upstream = {d: await done[d] for d in spec.deps() if d in done}
            failed = [d for d, r in upstream.items() if r.status != "ok"]
            with tracer.start_as_current_span("hugginggpt.task", attributes={
                    "hugginggpt.task.id": spec.id, "hugginggpt.task.name": spec.task}) as span:
                if failed:
                    result = self._skipped(spec, failed, upstream)
                else:
                    async with gate:
                        result = await self._execute(spec, upstream)
                record_task(span, result)
            done[spec.id].set_result(result)
            self.emit(Event(kind="task", stage="execute", status=result.status, task_id=spec.id, task=spec.task,
                            message=result.error.message if result.error else "",
                            data={"seconds": result.seconds, "outputs": [str(a.path) for a in result.outputs],
                                  **({"cache": "hit"} if result.cached else {})}))

        await asyncio.gather(*(one(t) for t in plan.tasks))
        return [done[t.id].result() for t in plan.tasks]

    async def _execute(self, spec: TaskSpec, upstream: dict[int, TaskResult]) -> TaskResult:
        self.emit(Event(kind="task", stage="execute", status="running", task_id=spec.id, task=spec.task))
        started = time.time()
        t0 = time.perf_counter()
        timeout, by_deadline = self.task_timeout, False
        if self.deadline is not None and self.deadline - time.monotonic() < timeout:
            timeout, by_deadline = max(0.0, self.deadline - time.monotonic()), True
        try:
            if timeout <= 0:
                raise TimeoutError
            result = await asyncio.wait_for(self.run_task(spec, upstream), timeout=timeout)
            if result.status == "pending":  # a run_task that only returns outputs
                result.status = "ok"
        except TimeoutError:
            # The worker thread cannot be killed; it finishes in the background and its output is discarded.
            if by_deadline:
                exc = TaskTimeout(f"Task {spec.id} ({spec.task}) was stopped at the run's deadline "
                                  "(run_timeout).", hint="Raise run_timeout, or ask for fewer tasks at once.")
            else:
                exc = TaskTimeout(f"Task {spec.id} ({spec.task}) took longer than {self.task_timeout:g} s.",
                                  hint="Raise task_timeout or use a faster model/backend.")
            result = TaskResult(task=spec, status="failed", error=ErrorInfo.from_exc(exc))
        except Exception as exc:  # noqa: BLE001 - every failure is isolated to its task and reported
            log.info("task %s (%s) failed: %s", spec.id, spec.task, exc)
            result = TaskResult(task=spec, status="failed", error=ErrorInfo.from_exc(exc))
        if result.choice is None and isinstance(self.choices.get(spec.id), ModelChoice):
            result.choice = self.choices[spec.id]
        result.started_at = started
        result.seconds = round(time.perf_counter() - t0, 4)
        return result

    @staticmethod
    def _skipped(spec: TaskSpec, failed: list[int], upstream: dict[int, TaskResult]) -> TaskResult:
        why = ", ".join(f"task {d} ({upstream[d].task.task}) {upstream[d].status}" for d in failed)
        return TaskResult(task=spec, status="skipped", error=ErrorInfo(
            type="Skipped", code="dependency_failed", message=f"Skipped because {why}.",
            hint="Fix the failed task above; this one needs its output."))
