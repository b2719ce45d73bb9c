"""Faults under the Ray engine, on a real local Ray (2 CPUs): a native crash fails only its task (named, with a hint)
and the actor restarts; a hang is killed at the task timeout and its CPU is given back; an expert past its memory cap
is stopped with a named error; the run's other branches finish."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ray_fault_experts import Aborts, EatsMemory, Echo, RayFaultAgent, Segfaults, Spins
from ray_support import cpu_seconds, psutil_module

from hugginggpt.execution.ray_engine import RayEngine
from llm_doubles import ScriptedLLM

pytestmark = pytest.mark.slow
pytest.importorskip("ray")
psutil = psutil_module()

CRASHERS = {"text-classification": Aborts.model_id, "token-classification": Segfaults.model_id,
            "summarization": Echo.model_id, "text-generation": Spins.model_id,
            "feature-extraction": EatsMemory.model_id}


def agent_for(plan: list[dict], tmp_path: Path, **config) -> RayFaultAgent:
    config.setdefault("task_timeout", 60)
    return RayFaultAgent(plan, tmp_path, llm=ScriptedLLM(capable=False), overrides=CRASHERS, cache=False,
                         execution={"engine": "ray", "ray_max_restarts": 3}, **config)


def by_id(result) -> dict[int, object]:
    return {r.task.id: r for r in result.results}


@pytest.mark.timeout(180)
def test_native_crashes_fail_only_their_task_and_the_actor_restarts(ray_session, tmp_path: Path) -> None:
    plan = [{"task": "text-classification", "id": 0, "args": {"text": "crash"}},
            {"task": "summarization", "id": 1, "args": {"text": "<GENERATED>-0"}},
            {"task": "token-classification", "id": 2, "args": {"text": "crash"}},
            {"task": "summarization", "id": 3, "args": {"text": "an independent branch"}}]
    agent = agent_for(plan, tmp_path)
    t0 = time.perf_counter()
    first = by_id(agent.run("crash twice"))
    crash_s = time.perf_counter() - t0
    for tid, model in ((0, Aborts.model_id), (2, Segfaults.model_id)):
        err = first[tid].error
        assert first[tid].status == "failed" and err.type == "ExpertCrashed" and err.code == "expert_crashed"
        assert model in err.message and "worker process died" in err.message
        assert "native crash" in err.hint and "restarts" in err.hint
    assert first[1].status == "skipped" and first[1].error.code == "dependency_failed"
    assert first[3].status == "ok" and first[3].text == "AN INDEPENDENT BRANCH"
    assert first[3].outputs[0].path.is_file()  # stored by the controller, as with threads

    # the same actors (restarted by Ray) answer the next requests
    agent._planner.tasks = [{"task": "text-classification", "id": 0, "args": {"text": "fine"}},
                            {"task": "token-classification", "id": 1, "args": {"text": "fine"}}]
    t0 = time.perf_counter()
    second = agent.run("no crash this time")
    restart_s = time.perf_counter() - t0
    assert [r.status for r in second.results] == ["ok", "ok"], [r.error for r in second.results]
    assert [r.text for r in second.results] == ["survived", "survived"]
    names = set(agent._engine_state["ray"].actors)
    assert {f"ray-faults:{Aborts.model_id}", f"ray-faults:{Segfaults.model_id}"} <= names
    print(f"\ncrash run {crash_s:.2f} s, next run after the restarts {restart_s:.2f} s")


@pytest.mark.timeout(120)
def test_a_hang_is_killed_at_the_timeout_and_its_cpu_returns(ray_session, tmp_path: Path) -> None:
    plan = [{"task": "text-generation", "id": 0, "args": {"text": "quick"}}]
    agent = agent_for(plan, tmp_path, task_timeout=4)
    warm = agent.run("warm the actor up")
    assert warm.results[0].status == "ok"
    pid = warm.results[0].data["pid"]
    spinner = psutil.Process(pid)

    agent._planner.tasks = [{"task": "text-generation", "id": 0, "args": {"text": "hang"}},
                            {"task": "summarization", "id": 1, "args": {"text": "meanwhile"}}]
    t0 = time.perf_counter()
    result = agent.run("hang")
    took = time.perf_counter() - t0
    hung, other = result.results
    assert hung.status == "failed" and hung.error.code == "task_timeout"
    assert other.status == "ok" and other.text == "MEANWHILE"
    assert took < 15, took

    # the spinning process is killed, not abandoned: it is gone and the Ray processes are back to idle
    spinner.wait(timeout=10)
    assert not spinner.is_running()
    tree = psutil.Process().children(recursive=True)
    before = cpu_seconds(tree)
    time.sleep(2.0)
    idle_cores = (cpu_seconds(tree) - before) / 2.0
    assert idle_cores < 0.35, f"Ray processes still use {idle_cores:.2f} cores after the timeout"

    # the next call to the model gets a fresh actor
    agent._planner.tasks = [{"task": "text-generation", "id": 0, "args": {"text": "quick"}}]
    again = agent.run("after the hang")
    assert again.results[0].status == "ok" and again.results[0].data["pid"] != pid
    print(f"\nhang run {took:.2f} s (task_timeout 4 s); Ray processes after it: {idle_cores:.3f} cores")


@pytest.mark.timeout(120)
def test_an_expert_past_its_memory_cap_is_stopped_with_a_named_error(ray_session, tmp_path: Path) -> None:
    plan = [{"task": "feature-extraction", "id": 0, "args": {"text": "eat"}},
            {"task": "summarization", "id": 1, "args": {"text": "still here"}}]
    agent = agent_for(plan, tmp_path)
    engine = agent._engine_state["ray"] = RayEngine(agent.config)
    engine.min_memory_cap_mb = 512.0
    engine.memory_mb[EatsMemory.model_id] = 0.0  # cap: max(512, 4 x (0 + 250)) = 1000 MiB above its start
    t0 = time.perf_counter()
    result = agent.run("eat memory")
    took = time.perf_counter() - t0
    eaten, other = result.results
    assert eaten.status == "failed" and eaten.error.type == "ExpertCrashed"
    assert "out of memory" in eaten.error.message
    assert other.status == "ok"
    # the actor survived its MemoryError (nothing held): the cap applies again, the process is still the same
    actor = engine.actors[f"ray-faults:{EatsMemory.model_id}"]
    info = ray_session.get(actor.handle.info.remote(), timeout=30)
    assert info["memory_cap"] > 0 and info["rss_mb"] < 1000
    print(f"\nmemory run {took:.2f} s; actor after it: {info['rss_mb']:.0f} MiB RSS")
