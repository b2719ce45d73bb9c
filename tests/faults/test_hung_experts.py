"""A hung expert blocks only itself: its task times out, other runs go on, ``run()`` returns at the timeout, the
process exits without waiting for it, and once all of a model's threads are stuck new calls fail at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from faults.fault_experts import RELEASE, Echo, FaultAgent, Hangs, HangsOnLoad
from llm_doubles import ScriptedLLM

TESTS = Path(__file__).resolve().parents[1]
HUNG = [{"task": "text-classification", "id": 0, "args": {"text": "anything"}}]
OTHER = [{"task": "summarization", "id": 0, "args": {"text": "an unrelated request"}}]
HANGS = {"text-classification": Hangs.model_id}


@pytest.fixture(autouse=True)
def release_hung_threads():
    RELEASE.clear()
    yield
    RELEASE.set()


def test_sync_run_returns_at_the_timeout_while_the_hung_call_still_runs(tmp_path: Path) -> None:
    agent = FaultAgent(HUNG, tmp_path, llm=ScriptedLLM(capable=False), overrides=HANGS, task_timeout=0.3)
    result = agent.run("classify")  # before: asyncio.run joined the default executor, i.e. waited for the hang
    assert result.results[0].error.code == "task_timeout"
    assert not RELEASE.is_set()
    assert agent.pool.workers.stats()[Hangs.model_id] == {"threads": 1, "busy": 1, "stuck": 1}
    RELEASE.set()


def test_other_runs_do_not_wait_on_hung_ones(tmp_path: Path) -> None:
    llm = ScriptedLLM(capable=False)
    hung = FaultAgent(HUNG, tmp_path / "a", llm=llm, overrides=HANGS, task_timeout=30)
    other = FaultAgent(OTHER, tmp_path / "b", llm=llm, overrides={"summarization": Echo.model_id})

    async def scenario() -> list:
        hung_runs = [asyncio.create_task(hung.arun("classify")) for _ in range(8)]  # more than the default executor
        while hung.pool.workers.stats().get(Hangs.model_id, {}).get("busy", 0) < 2:
            await asyncio.sleep(0.01)
        # the hung calls hold their threads until RELEASE; unrelated runs must finish meanwhile
        others = await asyncio.wait_for(asyncio.gather(*(other.arun("summarize") for _ in range(10))), 20)
        assert not RELEASE.is_set() and not any(j.done() for j in hung_runs)
        RELEASE.set()
        await asyncio.gather(*hung_runs)
        return others

    others = asyncio.run(scenario())
    assert [r.status for r in others] == ["succeeded"] * 10
    assert others[0].results[0].text == "AN UNRELATED REQUEST"


def test_a_model_whose_threads_are_all_stuck_fails_fast(tmp_path: Path) -> None:
    two = [{"task": "text-classification", "id": i, "args": {"text": f"t{i}"}} for i in range(2)]
    agent = FaultAgent(two, tmp_path, llm=ScriptedLLM(capable=False), overrides=HANGS, task_timeout=0.3)
    first = agent.run("classify twice")
    assert [r.error.code for r in first.results] == ["task_timeout", "task_timeout"]
    second = agent.run("classify twice")  # both threads of the model are still stuck in the first run's calls
    assert [r.error.code for r in second.results] == ["expert_unavailable"] * 2
    assert "timed out and are still running" in second.results[0].error.message
    RELEASE.set()


def test_a_model_that_hangs_while_loading_blocks_only_its_own_threads(tmp_path: Path) -> None:
    plan = [*HUNG, {"task": "summarization", "id": 1, "args": {"text": "independent"}}]
    agent = FaultAgent(plan, tmp_path, llm=ScriptedLLM(capable=False), task_timeout=0.3,
                       overrides={"text-classification": HangsOnLoad.model_id, "summarization": Echo.model_id})
    codes = []
    for _ in range(3):
        result = agent.run("classify and summarize")
        codes.append(result.results[0].error.code)
        assert result.results[1].status == "ok"  # the other model loads and runs meanwhile
    # 1: hangs in load; 2: waits for the model's load lock in the second thread; 3: both threads stuck, fails fast
    assert codes == ["task_timeout", "task_timeout", "expert_unavailable"]
    RELEASE.set()


def test_the_run_deadline_bounds_every_task(tmp_path: Path) -> None:
    plan = [*HUNG, {"task": "summarization", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]
    agent = FaultAgent(plan, tmp_path, llm=ScriptedLLM(capable=False), task_timeout=60, run_timeout=0.4,
                       overrides={**HANGS, "summarization": Echo.model_id})
    result = agent.run("classify then summarize")
    hung, after = result.results
    assert hung.error.code == "task_timeout" and "run's deadline" in hung.error.message
    assert after.status == "skipped"
    assert result.status == "failed" and result.timings["execute"] < 30


CHILD = """
import sys, time
sys.path.insert(0, {tests!r})
from faults.fault_experts import FaultAgent, Hangs
from llm_doubles import ScriptedLLM
from pathlib import Path
Hangs.hang_s = 120
agent = FaultAgent({plan!r}, Path({tmp!r}), llm=ScriptedLLM(capable=False), overrides={overrides!r},
                   task_timeout=0.3)
result = agent.run("classify")
print("STATUS", result.status, result.results[0].error.code, flush=True)
"""


def test_the_process_exits_without_waiting_for_a_hung_call(tmp_path: Path) -> None:
    code = CHILD.format(tests=str(TESTS), plan=HUNG, tmp=str(tmp_path), overrides=HANGS)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # before: the interpreter joined the hung worker thread at exit (120 s); the limit below is far from both
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STATUS failed task_timeout" in proc.stdout
