"""The demo's requests give the same results on both engines: the real embedded experts run in the controller's
threads, then in Ray actors (their own processes, inputs sent as bytes), and every task's model, text outputs and
media hashes agree; the artifacts are stored by the controller with the same provenance."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from hugginggpt.agent import HuggingGPT
from hugginggpt.config import HuggingGPTConfig
from llm_doubles import ScriptedLLM

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
# examples/demo.py's requests with images, speech and text
REQUESTS = [
    "Describe examples/poster.png and read the description aloud.",
    "What kind of animal is in examples/cat.jpg? Also find the faces in examples/poster.png.",
    "Is this review positive or negative: 'The museum tour was wonderful and the staff were friendly.'",
]
# Piper samples noise (VITS): its WAV differs from call to call on either engine; the others give the same bytes
RANDOM = {"hugginggpt/piper-joe-medium"}


def outcome(agent: HuggingGPT, request: str) -> list[tuple]:
    result = agent.run(request)
    assert result.error is None, result.error
    rows = []
    for r in result.results:
        assert r.status == "ok", (request, r.task.task, r.error)
        same = r.choice.model_id not in RANDOM
        rows.append((r.task.task, r.choice.model_id, r.choice.backend,
                     [(a.kind, a.text if a.kind == "text" else a.sha256 if same else a.path.suffix)
                      for a in r.outputs], sorted(r.inputs)))
    return rows


def make_agent(tmp_path: Path, engine: str) -> HuggingGPT:
    """An agent whose base directory holds the demo's generated inputs under ``examples/`` (as ``make demo`` makes
    them)."""
    from make_examples import main as make_examples

    base = tmp_path / "base"
    if not (base / "examples").is_dir():
        make_examples(base / "examples")
    config = HuggingGPTConfig(workspace=tmp_path / engine, allowed_dirs=[base], cache=False,
                              execution={"engine": engine})
    return HuggingGPT(config, llm=ScriptedLLM(capable=False), base_dir=base)


@pytest.mark.timeout(240)  # three requests, five real models loaded twice (threads, then one Ray actor each)
def test_demo_requests_give_the_same_outputs_on_threads_and_ray(local_ray, tmp_path: Path) -> None:
    threads, ray = make_agent(tmp_path, "threads"), make_agent(tmp_path, "ray")
    timings: dict[str, list[float]] = {"threads": [], "ray": []}
    for request in REQUESTS:
        outcomes = {}
        for name, agent in (("threads", threads), ("ray", ray)):
            t0 = time.perf_counter()
            outcomes[name] = outcome(agent, request)
            timings[name].append(round(time.perf_counter() - t0, 2))
        assert outcomes["ray"] == outcomes["threads"], request

    # the Ray runs really ran in actors, and their outputs are in the controller's own store
    engine = ray._engine_state["ray"]
    assert {"embedded:hugginggpt/vader-sentiment"} <= set(engine.actors) | set(engine.killed)
    run = ray.run(REQUESTS[2])
    art = run.results[0].outputs[0]
    assert art.path.is_relative_to(ray.store.root) and art.model_id == "hugginggpt/vader-sentiment"
    print(f"\nper request, first time (models loading) threads {timings['threads']} s, ray {timings['ray']} s")
    t0 = time.perf_counter()
    for _ in range(5):
        ray.run(REQUESTS[2])
    warm_ray = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    for _ in range(5):
        threads.run(REQUESTS[2])
    warm_threads = (time.perf_counter() - t0) / 5
    print(f"warm sentiment request: threads {warm_threads * 1000:.0f} ms, ray {warm_ray * 1000:.0f} ms")
