"""setup_tracing: nothing installed when nothing is configured, exporters from the tracing section or OTEL_*
variables, idempotence, context propagation helpers, and spans arriving at a real OTLP/HTTP receiver."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading

import pytest

from hugginggpt.config import TracingSettings
from hugginggpt.observability import tracing

PROBE = """
import json, sys
from opentelemetry import trace
from hugginggpt.config import TracingSettings
from hugginggpt.observability.tracing import get_tracer, setup_tracing, tracing_enabled
installed = setup_tracing(TracingSettings())
with get_tracer().start_as_current_span("probe", attributes={"probe.n": 7}) as span:
    recording = span.is_recording()
print(json.dumps({"installed": installed, "enabled": tracing_enabled(), "recording": recording,
                  "provider": type(trace.get_tracer_provider()).__name__}))
"""


def _probe(**env: str) -> tuple[dict, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HUGGINGGPT_TRACING"))}
    proc = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_nothing_configured_installs_nothing() -> None:
    out, _ = _probe()
    assert out == {"installed": False, "enabled": False, "recording": False, "provider": "ProxyTracerProvider"}


def test_console_exporter_from_otel_variables() -> None:
    out, err = _probe(OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="svc-from-env")
    assert out["installed"] and out["enabled"] and out["recording"] and out["provider"] == "TracerProvider"
    # The console exporter writes to stderr (stdout carries the command's own output), flushed at exit.
    assert '"name": "probe"' in err and '"service.name": "svc-from-env"' in err and '"probe.n": 7' in err


def test_sdk_disabled_wins() -> None:
    out, _ = _probe(OTEL_TRACES_EXPORTER="console", OTEL_SDK_DISABLED="true")
    assert out["installed"] is False and out["recording"] is False


@pytest.mark.parametrize(("env", "settings", "expected"), [
    ({}, TracingSettings(), []),
    ({"OTEL_TRACES_EXPORTER": "none"}, TracingSettings(), []),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, TracingSettings(), ["otlp-http"]),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, TracingSettings(), ["otlp-grpc"]),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
      "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, TracingSettings(), ["otlp-http"]),
    ({"OTEL_TRACES_EXPORTER": "console,otlp,zipkin"}, TracingSettings(), ["console", "otlp-http"]),
    ({"OTEL_TRACES_EXPORTER": "console"}, TracingSettings(exporter="otlp-grpc"), ["otlp-grpc"]),
])
def test_exporter_choice(monkeypatch, env, settings, expected) -> None:
    for key in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert tracing._exporter_names(settings) == expected


def test_http_endpoint_gets_the_traces_path() -> None:
    assert tracing._http_traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert tracing._http_traces_url("http://collector:4318/v1/traces/") == "http://collector:4318/v1/traces"


def test_setup_is_idempotent(monkeypatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    out = io.StringIO()
    try:
        assert tracing.setup_tracing(TracingSettings(exporter="console"), console_out=out)
        router = tracing._router
        assert router is not None and len(router.configured) == 1
        first = router.configured
        assert tracing.setup_tracing(TracingSettings(exporter="console"), console_out=out)
        assert router.configured is first  # the same settings again: nothing new
        with tracing.get_tracer().start_as_current_span("once"):
            pass
        tracing.force_flush()
        assert out.getvalue().count('"name": "once"') == 1
    finally:
        tracing.reset_tracing()
    assert not tracing.tracing_enabled()


def test_context_crosses_threads_through_a_carrier(spans) -> None:
    tracer = tracing.get_tracer()
    carriers: list[dict[str, str]] = []
    with tracer.start_as_current_span("sender") as sender:
        carriers.append(tracing.inject_context())

    def receive() -> None:  # a fresh thread has no current span: only the carrier links it
        with tracing.attach_context(carriers[0]), tracer.start_as_current_span("receiver"):
            pass

    t = threading.Thread(target=receive)
    t.start()
    t.join()
    assert carriers[0]["traceparent"].split("-")[1] == format(sender.get_span_context().trace_id, "032x")
    receiver = next(s for s in spans.get_finished_spans() if s.name == "receiver")
    assert receiver.context.trace_id == sender.get_span_context().trace_id
    assert receiver.parent.span_id == sender.get_span_context().span_id
    assert tracing.inject_context() == {}  # no span active: nothing to send


def test_spans_reach_a_real_otlp_http_receiver(otlp_receiver, monkeypatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    try:
        assert tracing.setup_tracing(TracingSettings(exporter="otlp-http", endpoint=otlp_receiver.url))
        tracer = tracing.get_tracer()
        with tracer.start_as_current_span("hugginggpt.run", attributes={"hugginggpt.run.id": "r1"}), \
                tracer.start_as_current_span("hugginggpt.stage.plan"):
            pass
        assert tracing.force_flush(10_000)
    finally:
        tracing.reset_tracing()
    run = otlp_receiver.wait_for("hugginggpt.run")[0]
    plan = otlp_receiver.wait_for("hugginggpt.stage.plan")[0]
    assert otlp_receiver.paths[0] == "/v1/traces"
    assert run["attributes"]["hugginggpt.run.id"] == "r1" and run["scope"] == "hugginggpt"
    assert run["service"] == "hugginggpt"
    assert plan["trace_id"] == run["trace_id"] and plan["parent_span_id"] == run["span_id"]
