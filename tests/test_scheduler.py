"""The DAG scheduler: ordering, real concurrency, failure isolation, timeouts."""

from __future__ import annotations

import asyncio
import threading

from hugginggpt.errors import ExpertError
from hugginggpt.execution.scheduler import Scheduler
from hugginggpt.planning import repair_plan
from hugginggpt.results import TaskResult
from hugginggpt.tasks import default_registry

REG = default_registry()


def plan_of(raw):
    plan, _ = repair_plan(raw, REG)
    return plan


DIAMOND = [
    {"task": "automatic-speech-recognition", "id": 0, "args": {"audio": "a.wav"}},
    {"task": "summarization", "id": 1, "args": {"text": "<GENERATED>-0"}},
    {"task": "text-classification", "id": 2, "args": {"text": "<GENERATED>-0"}},
    {"task": "text-to-speech", "id": 3, "args": {"text": "<GENERATED>-1"}},
]


def test_dependants_start_after_their_inputs_and_results_keep_plan_order():
    order: list[int] = []

    async def run_task(spec, upstream):
        assert set(upstream) == set(spec.deps())
        assert all(r.status == "ok" for r in upstream.values())
        order.append(spec.id)
        await asyncio.sleep(0)
        return TaskResult(task=spec)

    results = asyncio.run(Scheduler(run_task, max_parallel=4).run(plan_of(DIAMOND)))
    assert [r.task.id for r in results] == [0, 1, 2, 3]
    assert all(r.status == "ok" for r in results)
    assert order.index(0) < order.index(1) < order.index(3)
    assert order.index(0) < order.index(2)


def test_independent_tasks_run_at_the_same_time_in_worker_threads():
    # Each task blocks its worker thread until the other one has started: this only finishes if both run at once.
    barrier = threading.Barrier(2, timeout=10)
    raw = [{"task": "image-classification", "id": 0, "args": {"image": "a.png"}},
           {"task": "automatic-speech-recognition", "id": 1, "args": {"audio": "b.wav"}}]

    async def run_task(spec, upstream):
        await asyncio.to_thread(barrier.wait)
        return TaskResult(task=spec)

    results = asyncio.run(Scheduler(run_task, max_parallel=2).run(plan_of(raw)))
    assert [r.status for r in results] == ["ok", "ok"]


def test_max_parallel_one_serialises():
    running = 0
    peak = 0
    raw = [{"task": "image-classification", "id": i, "args": {"image": f"{i}.png"}} for i in range(4)]

    async def run_task(spec, upstream):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return TaskResult(task=spec)

    asyncio.run(Scheduler(run_task, max_parallel=1).run(plan_of(raw)))
    assert peak == 1


def test_failure_skips_dependants_and_other_branches_continue():
    events = []

    async def run_task(spec, upstream):
        if spec.task == "summarization":
            raise ExpertError("model crashed", hint="try another model")
        return TaskResult(task=spec)

    results = asyncio.run(Scheduler(run_task, emit=events.append).run(plan_of(DIAMOND)))
    status = {r.task.id: r.status for r in results}
    assert status == {0: "ok", 1: "failed", 2: "ok", 3: "skipped"}
    assert results[1].error.type == "ExpertError" and results[1].error.hint == "try another model"
    assert results[3].error.code == "dependency_failed"
    assert "task 1 (summarization) failed" in results[3].error.message
    assert {e.task_id for e in events if e.status in ("ok", "failed", "skipped")} == {0, 1, 2, 3}


def test_timeout_fails_the_task_with_a_named_error():
    async def run_task(spec, upstream):
        if spec.id == 0:
            await asyncio.sleep(30)
        return TaskResult(task=spec)

    raw = [{"task": "image-classification", "id": 0, "args": {"image": "a.png"}},
           {"task": "object-detection", "id": 1, "args": {"image": "a.png"}}]
    results = asyncio.run(Scheduler(run_task, task_timeout=0.2).run(plan_of(raw)))
    assert results[0].status == "failed" and results[0].error.type == "TaskTimeout"
    assert results[1].status == "ok"


def test_unexpected_exception_is_isolated():
    async def run_task(spec, upstream):
        raise ZeroDivisionError("boom")

    results = asyncio.run(Scheduler(run_task).run(plan_of(DIAMOND[:1])))
    assert results[0].status == "failed"
    assert results[0].error.code == "internal_error" and "boom" in results[0].error.message


def test_run_deadline_stops_running_and_waiting_tasks():
    import time

    async def run_task(spec, upstream):
        await asyncio.sleep(30)
        return TaskResult(task=spec)

    raw = [{"task": "image-classification", "id": i, "args": {"image": f"{i}.png"}} for i in range(3)]
    scheduler = Scheduler(run_task, max_parallel=1, task_timeout=60, deadline=time.monotonic() + 0.2)
    results = asyncio.run(scheduler.run(plan_of(raw)))
    # task 0 is stopped at the deadline; 1 and 2 waited for the single slot and get no time at all
    assert [r.error.type for r in results] == ["TaskTimeout"] * 3
    assert all("run's deadline" in r.error.message for r in results)
