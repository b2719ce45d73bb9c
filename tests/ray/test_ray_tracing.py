"""Trace context crosses into Ray workers: the worker's span joins the run's trace, as a child of the expert call,
and reaches the same OTLP receiver (configured once, in the controller's tracing section)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hugginggpt import HuggingGPT, HuggingGPTConfig
from hugginggpt.observability import tracing
from llm_doubles import ScriptedLLM
from observability.conftest import OTLPReceiver
from stub_http import serve_in_thread, stop

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver():
    r = OTLPReceiver()
    thread = serve_in_thread(r.server)
    yield r
    stop(r.server, thread)


@pytest.mark.timeout(180)
def test_a_ray_workers_span_joins_the_runs_trace(ray_session, receiver: OTLPReceiver, tmp_path: Path) -> None:
    config = HuggingGPTConfig(workspace=tmp_path / "ws", allowed_dirs=[tmp_path], cache=False,
                              execution={"engine": "ray"},
                              tracing={"exporter": "otlp-http", "endpoint": receiver.url})
    tracing.reset_tracing()
    tracing.setup_tracing(config.tracing)
    try:
        agent = HuggingGPT(config, llm=ScriptedLLM(capable=False), base_dir=tmp_path)
        run = agent.run("Is this review positive or negative: 'The staff were wonderful and friendly.'")
        assert run.status == "succeeded", [(r.task.task, r.error) for r in run.results]
        tracing.force_flush()
        (worker,) = receiver.wait_for("hugginggpt.worker", timeout=60)
        (expert,) = receiver.wait_for("hugginggpt.expert")
        (root,) = receiver.wait_for("hugginggpt.run")
    finally:
        tracing.reset_tracing()
    assert root["attributes"]["hugginggpt.run_id"] == run.run_id
    assert worker["trace_id"] == expert["trace_id"] == root["trace_id"]
    assert worker["parent_span_id"] == expert["span_id"]
    assert worker["attributes"]["hugginggpt.model_id"] == run.results[0].choice.model_id
    assert worker["attributes"]["hugginggpt.worker"].startswith("ray:")
