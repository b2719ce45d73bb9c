"""Adversarial, bounded stress of the engine's own machinery: leases under a budget that is always exceeded, worker
calls cancelled at random, and answers of every shape against the "Not done:" guarantee."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hugginggpt.answer_sections import NOT_DONE_NOTE
from hugginggpt.experts.base import Expert, ExpertResult
from hugginggpt.experts.pool import ExpertPool
from hugginggpt.experts.workers import ExpertWorkers
from hugginggpt.grounding import not_done_note, states_failure
from hugginggpt.planning import repair_plan
from hugginggpt.results import ErrorInfo, RunResult, TaskResult
from hugginggpt.tasks import default_registry


def counting_expert(name: str, loaded: dict[str, int]) -> type[Expert]:
    """An expert that counts itself as resident while loaded and fails loudly if it runs unloaded."""

    def _load(self: Any) -> None:
        self._model = name
        loaded[name] = loaded.get(name, 0) + 1

    def _unload(self: Any) -> None:
        self._model = None
        loaded[name] -= 1

    def run(self: Any, inputs: dict[str, Any]) -> ExpertResult:
        for _ in range(50):  # a call long enough for other threads to load and evict meanwhile
            assert self._model == name, f"{name} was unloaded while in use"
        return ExpertResult.of_text(name)

    return type(name, (Expert,), {"task": "summarization", "model_id": f"stress/{name}", "_load": _load,
                                  "_unload": _unload, "run": run})


def test_leases_hold_under_a_budget_that_is_always_exceeded() -> None:
    loaded: dict[str, int] = {}
    classes = [counting_expert(f"m{i}", loaded) for i in range(4)]
    pool = ExpertPool(budget_mb=0, rss=lambda: 100.0)  # every check is over budget: evict whatever is idle
    failures: list[BaseException] = []
    rng = random.Random(7)
    plans = [[rng.choice(classes) for _ in range(20)] for _ in range(6)]

    def worker(seq: list[type[Expert]]) -> None:
        try:
            for cls in seq:
                with pool.lease(cls) as expert:
                    assert expert.run({}).outputs[0].text == cls.__name__
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures[:3]
    assert pool.in_use() == {} and pool.loaded_ids() == []
    assert all(v == 0 for v in loaded.values()), loaded  # every load was matched by exactly one unload
    assert len(pool.evictions) > 0


def test_random_cancellations_leave_no_stuck_calls_and_no_threads() -> None:
    workers = ExpertWorkers(max_per_model=3, idle_s=0.2)
    rng = random.Random(11)

    async def scenario() -> None:
        jobs = []
        for i in range(120):
            delay = rng.choice([0.0, 0.001, 0.01, 0.03])
            jobs.append(asyncio.ensure_future(workers.call(f"m{i % 4}", lambda d=delay: threading.Event().wait(d))))
            if rng.random() < 0.4:
                await asyncio.sleep(rng.choice([0, 0.002]))
                jobs[-1].cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        for _ in range(200):  # abandoned calls end by themselves (they only sleep)
            if all(s["stuck"] == 0 and s["busy"] == 0 for s in workers.stats().values()):
                break
            await asyncio.sleep(0.02)

    asyncio.run(scenario())
    stats = workers.stats()
    assert all(s["stuck"] == 0 and s["busy"] == 0 for s in stats.values()), stats
    for _ in range(100):  # idle threads give themselves back
        if all(s["threads"] == 0 for s in workers.stats().values()):
            break
        threading.Event().wait(0.05)
    assert all(s["threads"] == 0 for s in workers.stats().values()), workers.stats()


REG = default_registry()
PLAN, _ = repair_plan([{"task": "summarization", "id": 0, "args": {"text": "a"}},
                       {"task": "translation", "id": 1, "args": {"text": "b"}},
                       {"task": "text-to-speech", "id": 2, "args": {"text": "<GENERATED>-1"}},
                       {"task": "object-detection", "id": 3, "args": {"image": "x.png"}}], REG)
WORDS = ["All", "tasks", "task", "completed", "successfully", "failed", "translation", "text-to-speech", "summary",
         "object detection", "skipped", "could not", "done", "everything", "worked", "1", "2", "3", ".", "!", "\n",
         "the", "was", "not", "error", "ok"]


@settings(max_examples=300, deadline=None)
@given(answer=st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join),
       statuses=st.lists(st.sampled_from(["ok", "failed", "skipped"]), min_size=4, max_size=4))
def test_every_failure_is_stated_or_appended(answer: str, statuses: list[str]) -> None:
    results = [TaskResult(task=t, status=s,  # type: ignore[arg-type]
                          error=None if s == "ok" else ErrorInfo(type="E", code="c", message=f"reason {t.id}"))
               for t, s in zip(PLAN.tasks, statuses, strict=True)]
    run = RunResult(run_id="x", request="r", plan=PLAN.tasks, results=results)
    note = not_done_note(answer, run)
    for r in results:
        if r.status != "ok":
            listed = f"- task {r.task.id} ({r.task.task}): {r.status} - reason {r.task.id}" in note
            assert listed or states_failure(answer, r), (answer, r.task.id)
    if all(s == "ok" for s in statuses):
        assert note == ""
    else:
        assert note == "" or note.startswith(NOT_DONE_NOTE)

