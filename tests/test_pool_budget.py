"""The pool's memory budget: measured memory (here a meter that adds up what is loaded), leases that keep models in
use loaded, process-wide residents that count and are released when idle. Fast: the models are stand-ins whose
"weights" are a number of megabytes on the meter; the real-RSS version is tests/hub/test_pool.py."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hugginggpt.experts.base import Expert, ExpertResult
from hugginggpt.experts.pool import ExpertPool
from hugginggpt.residents import register_resident, residents, unregister_resident

LOADED: dict[str, float] = {}  # model -> MB it holds (what the meter reads)


def meter() -> float:
    return 100 + sum(LOADED.values())  # 100 MB of interpreter and libraries


@pytest.fixture(autouse=True)
def clean():
    LOADED.clear()
    # Process-wide models that earlier tests in this process loaded (MiniLM, spaCy...) would be evicted here too;
    # these tests count only their stand-ins, so start without them.
    for resident in residents():
        if resident.is_loaded():
            resident.release()
    yield
    LOADED.clear()


def sized(name: str, mb: float, gate: threading.Event | None = None) -> type[Expert]:
    """An expert holding ``mb`` on the meter while loaded; ``run`` optionally waits for ``gate`` and then uses its
    model, failing as Piper did if it was unloaded underneath."""

    def _load(self: Any) -> None:
        self._model = name
        LOADED[name] = mb

    def _unload(self: Any) -> None:
        self._model = None
        LOADED.pop(name, None)

    def run(self: Any, inputs: dict[str, Any]) -> ExpertResult:
        if gate is not None:
            gate.wait(10)
        return ExpertResult.of_text(self._model.upper())  # AttributeError on None if unloaded mid-call

    return type(name, (Expert,), {"task": "summarization", "model_id": f"test/{name}", "_load": _load,
                                  "_unload": _unload, "run": run})


def test_idle_models_are_unloaded_least_recently_used_first_while_over_budget() -> None:
    pool = ExpertPool(budget_mb=350, rss=meter)
    a, b, c = sized("a", 100), sized("b", 100), sized("c", 100)
    pool.get(a)
    pool.get(b)  # 300 MB: under
    pool.get(a)  # a is now the most recently used
    pool.get(c)  # 400 MB: over, b is the least recently used idle model
    assert pool.loaded_ids() == ["test/a", "test/c"]
    assert [e.name for e in pool.evictions] == ["test/b"]
    assert pool.used_mb == meter() == 300


def test_a_model_in_use_is_never_unloaded() -> None:
    gate = threading.Event()
    pool = ExpertPool(budget_mb=150, rss=meter)
    busy, other = sized("busy", 100, gate), sized("other", 100)
    out: dict[str, Any] = {}

    def use_busy() -> None:
        with pool.lease(busy) as expert:
            out["text"] = expert.run({}).outputs[0].text

    worker = threading.Thread(target=use_busy)
    worker.start()
    while "busy" not in LOADED:  # loaded and leased; its run now waits for the gate
        threading.Event().wait(0.005)
    pool.get(other)  # 300 MB > 150: busy is leased, so only other (idle, just loaded) can go
    assert "test/busy" in pool.loaded_ids()
    gate.set()
    worker.join(10)
    assert out["text"] == "BUSY"  # before leases: AttributeError, 'NoneType' object has no attribute 'upper'
    assert pool.in_use() == {}
    assert pool.loaded_ids() == []  # lease over and still over budget: busy went too


def test_leases_nest_and_count_per_model() -> None:
    pool = ExpertPool(budget_mb=0, rss=meter)
    m = sized("m", 10)
    with pool.leasing():
        pool.get(m)
        with pool.lease(m):
            assert pool.in_use() == {"test/m": 2}
        assert pool.in_use() == {"test/m": 1} and pool.loaded_ids() == ["test/m"]
    assert pool.in_use() == {} and pool.loaded_ids() == []


def test_residents_count_and_busy_ones_stay() -> None:
    pool = ExpertPool(budget_mb=150, rss=meter)
    state = {"held": True, "busy": True}
    LOADED["shared"] = 200

    def release() -> bool:
        if state["busy"]:
            return False
        state["held"] = False
        LOADED.pop("shared", None)
        return True

    resident = register_resident("test shared model", lambda: state["held"], release)
    try:
        assert pool.enforce() == []  # busy: not released, the pool says so and goes on
        state["busy"] = False
        assert pool.enforce() == ["test shared model"]
        assert not state["held"] and meter() == 100
    finally:
        unregister_resident(resident)


def test_shared_models_register_and_are_released_only_when_idle() -> None:
    from hugginggpt.experts.embedded._shared import SharedModel

    closed: list[str] = []

    class Graph:
        def close(self) -> None:
            closed.append("graph")

    model = SharedModel("test graph", Graph)
    entry = next(r for r in residents() if r.name == "test graph")
    try:
        with model.use():
            assert entry.is_loaded()
            assert entry.release() is False  # in use: the pool's eviction leaves it
            assert model.release() is False  # an expert's unload: dropped when the call ends
            assert model.loaded
        assert not model.loaded and closed == ["graph"]  # dropped and closed (mediapipe graphs leak otherwise)
    finally:
        unregister_resident(entry)
