"""Trace context crosses into a model server: the http backend sends W3C ``traceparent``, a real
``hugginggpt models-server`` process on loopback (configured only by OTEL_* variables) makes its span a child of
the caller's and exports it to a real OTLP/HTTP receiver on loopback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hugginggpt.backends.http import ModelServer
from hugginggpt.observability import tracing
from models_server_proc import start_models_server

# A models-server process (imports and one small model): seconds, more on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MODEL = "hugginggpt/vader-sentiment"


@pytest.fixture
def models_server(tmp_path: Path, otlp_receiver) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HUGGINGGPT_TRACING"))}
    env.update(HF_HUB_OFFLINE="1", HUGGINGGPT_WORKSPACE=str(tmp_path), OTEL_TRACES_EXPORTER="otlp",
               OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.url, OTEL_SERVICE_NAME="gpu-box",
               OTEL_BSP_SCHEDULE_DELAY="100")
    url, proc = start_models_server(tmp_path, [MODEL], env, timeout=150)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def test_remote_span_joins_the_callers_trace(models_server: str, otlp_receiver, spans) -> None:
    server = ModelServer(models_server, timeout=120)
    with tracing.get_tracer().start_as_current_span("hugginggpt.expert") as caller:
        result = server.infer(MODEL, "text-classification", {"text": "I love this, it is wonderful"})
    assert result.outputs and "positive" in (result.outputs[0].text or "").lower() + str(result.data).lower()
    remote = otlp_receiver.wait_for("hugginggpt.models_server.infer")[0]
    ctx = caller.get_span_context()
    assert remote["trace_id"] == format(ctx.trace_id, "032x")
    assert remote["parent_span_id"] == format(ctx.span_id, "016x")
    assert remote["service"] == "gpu-box"
    assert remote["attributes"]["hugginggpt.model.id"] == MODEL
    assert remote["attributes"]["http.response.status_code"] == 200


def test_no_traceparent_without_a_span(models_server: str, otlp_receiver) -> None:
    """Tracing off on the caller: no header is sent, and the server's span starts a trace of its own."""
    tracing.reset_tracing()
    ModelServer(models_server, timeout=120).infer(MODEL, "text-classification", {"text": "fine"})
    remote = otlp_receiver.wait_for("hugginggpt.models_server.infer")[0]
    assert remote["parent_span_id"] == ""
