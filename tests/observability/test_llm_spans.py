"""One ``hugginggpt.llm`` span per controller LLM call (OpenInference attributes), prompts only when
``include_content`` is on, errors recorded; the same calls counted in the LLM metrics by stage."""

from __future__ import annotations

import json

import pytest

from hugginggpt.config import TracingSettings
from hugginggpt.llm.base import Usage
from hugginggpt.llm.tracking import TrackedLLM
from hugginggpt.observability import metrics, tracing
from llm_doubles import ScriptedLLM

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "secret user text"}]


def _sample(counter, **labels) -> float:
    return counter.labels(**labels)._value.get()


def test_llm_span_attributes_and_token_metrics(spans) -> None:
    before_prompt = _sample(metrics.LLM_TOKENS, stage="select", kind="prompt")
    before_completion = _sample(metrics.LLM_TOKENS, stage="select", kind="completion")
    usage = Usage()
    llm = TrackedLLM(ScriptedLLM('{"id": "x"}'), usage)
    with tracing.get_tracer().start_as_current_span("hugginggpt.stage.select") as stage:
        out = llm.chat(MESSAGES, json_schema={"type": "object"}, max_tokens=64, stage="select")
    assert out.text == '{"id": "x"}' and usage.by_stage["select"]["prompt_tokens"] == 100
    (span,) = [s for s in spans.get_finished_spans() if s.name == "hugginggpt.llm"]
    a = dict(span.attributes)
    assert a["openinference.span.kind"] == "LLM" and a["hugginggpt.stage"] == "select"
    assert a["llm.model_name"] == "scripted" and a["llm.system"] == "scripted"
    assert (a["llm.token_count.prompt"], a["llm.token_count.completion"], a["llm.token_count.total"]) == (100, 20, 120)
    assert json.loads(a["llm.invocation_parameters"]) == {"max_tokens": 64, "temperature": 0.0, "json_schema": True}
    assert a["llm.finish_reason"] == "stop"
    # content is off by default: no prompt and no answer on the span
    assert not any(k.startswith(("input.", "output.", "llm.input_messages", "llm.output_messages")) for k in a)
    assert span.parent.span_id == stage.get_span_context().span_id
    assert _sample(metrics.LLM_TOKENS, stage="select", kind="prompt") == before_prompt + 100
    assert _sample(metrics.LLM_TOKENS, stage="select", kind="completion") == before_completion + 20


def test_content_only_when_asked(spans) -> None:
    tracing.setup_tracing(TracingSettings(include_content=True))
    assert tracing.content_enabled()
    TrackedLLM(ScriptedLLM("short answer"), Usage()).chat(MESSAGES, stage="respond")
    (span,) = [s for s in spans.get_finished_spans() if s.name == "hugginggpt.llm"]
    a = dict(span.attributes)
    assert json.loads(a["input.value"]) == MESSAGES and a["input.mime_type"] == "application/json"
    assert a["llm.input_messages.1.message.role"] == "user"
    assert a["llm.input_messages.1.message.content"] == "secret user text"
    assert a["output.value"] == "short answer" and a["llm.output_messages.0.message.content"] == "short answer"


def test_failed_call_is_an_error_span(spans) -> None:
    before = _sample(metrics.LLM_CALLS, stage="plan", outcome="error")
    usage = Usage()
    with pytest.raises(TimeoutError):
        TrackedLLM(ScriptedLLM(TimeoutError("llm server too slow")), usage).chat(MESSAGES, stage="plan")
    (span,) = [s for s in spans.get_finished_spans() if s.name == "hugginggpt.llm"]
    assert span.status.status_code.name == "ERROR" and "llm server too slow" in span.status.description
    assert span.attributes["error.type"] == "TimeoutError"
    assert [e.name for e in span.events] == ["exception"]
    assert usage.calls == 0 and _sample(metrics.LLM_CALLS, stage="plan", outcome="error") == before + 1


def test_no_span_work_without_a_provider_recording(monkeypatch) -> None:
    """With tracing off the wrapper still counts usage and metrics; it builds no attributes (nothing records)."""
    tracing.reset_tracing()
    built: list[str] = []
    monkeypatch.setattr(TrackedLLM, "_request_attributes", lambda *a, **k: built.append("req") or {})
    usage = Usage()
    if tracing._router is not None:  # another test installed the provider in this process: make it non-sampling
        from opentelemetry import trace
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

        monkeypatch.setattr(trace.get_tracer_provider(), "sampler", ALWAYS_OFF)
    TrackedLLM(ScriptedLLM("x"), usage).chat(MESSAGES, stage="other")
    assert usage.calls == 1 and built == []
