"""An expert that grows past a memory limit fails its own task with ``ExpertCrashed``; the run goes on.

The limit is real: a child process caps its address space (``RLIMIT_AS``) at what it uses plus 384 MB, then runs an
agent whose expert allocates 32 MB blocks until the allocator refuses. The test machine never sees more than that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from faults.fault_experts import Echo, FaultAgent
from hugginggpt.experts.base import Expert, ExpertResult
from llm_doubles import ScriptedLLM


class Grows(Expert):
    task = "text-classification"
    model_id = "faults/grows"

    def run(self, inputs):
        blocks = []
        for _ in range(64):  # 2 GB if nothing stopped it
            blocks.append(bytearray(32 << 20))
        return ExpertResult.of_text(str(len(blocks)))


plan = [{{"task": "text-classification", "id": 0, "args": {{"text": "grow"}}}},
        {{"task": "summarization", "id": 1, "args": {{"text": "independent"}}}}]
agent = FaultAgent(plan, Path({tmp!r}), classes=[Grows, Echo], llm=ScriptedLLM(capable=False), max_parallel=1,
                   overrides={{"text-classification": Grows.model_id, "summarization": Echo.model_id}})
agent.run("warm up threads and imports")  # the first run pays for imports and thread stacks, under no limit
with open("/proc/self/status") as f:
    vm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
limit = vm_kb * 1024 + (384 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
result = agent.run("grow past the limit")
grown, other = result.results
print("RESULT", result.status, grown.error.code, other.status, flush=True)
print("MESSAGE", grown.error.message, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
@pytest.mark.timeout(180)  # a child process: up to 120 s
def test_an_expert_that_exceeds_a_memory_limit_fails_only_its_task(tmp_path: Path) -> None:
    code = CHILD.format(tests=str(TESTS), tmp=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RESULT partial expert_crashed ok" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "faults/grows ran out of memory" in proc.stdout


TEXT = ("The city council met on Tuesday in Springfield. Maria Lopez proposed a new park near the river. "
        "The vote was postponed to spring because the budget was not ready.")


@pytest.mark.slow
def test_real_experts_are_unloaded_after_use_under_a_small_budget(tmp_path: Path) -> None:
    """VADER, spaCy NER and the MiniLM summarizer (a pool expert plus two process-wide residents) under a 1 MB
    budget: each is loaded for its task, and nothing idle stays loaded once its task is over."""
    from hugginggpt.agent import HuggingGPT
    from hugginggpt.config import HuggingGPTConfig
    from hugginggpt.residents import residents
    from llm_doubles import ScriptedLLM
    from planner_doubles import FixedPlanner

    planner = FixedPlanner([])
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path / "ws", memory_budget_mb=1), llm=ScriptedLLM(capable=False),
                       planner=planner, base_dir=tmp_path)
    for task in ("text-classification", "token-classification", "summarization"):
        planner.tasks = [{"task": task, "id": 0, "args": {"text": TEXT}}]
        result = agent.run(task)
        assert result.status == "succeeded", result.results[0].error
        assert agent.pool.loaded_ids() == [] and agent.pool.in_use() == {}
        loaded = [r.name for r in residents() if r.is_loaded()]
        assert not {"spaCy en_core_web_sm", "MiniLM sentence embedder"} & set(loaded), loaded
    evicted = [e.name for e in agent.pool.evictions]
    assert {"hugginggpt/vader-sentiment", "spaCy en_core_web_sm", "MiniLM sentence embedder"} <= set(evicted)
    assert agent.pool.stats()["accounted_mb"] > 1  # the measured process, not an estimate of what loaded
