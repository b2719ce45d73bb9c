"""Per-run token accounting: a thin proxy that records every call's tokens in a ``Usage``, counts them in the
``hugginggpt_llm_*`` metrics and, when tracing is on, makes one ``hugginggpt.llm`` span per call (OpenInference
semantic conventions: docs/observability.md)."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.trace import Status, StatusCode

from ..observability.metrics import record_llm_call
from ..observability.tracing import content_enabled, get_tracer
from .base import LLM, ChatResult, Usage

LLM_SPAN = "hugginggpt.llm"


class TrackedLLM:
    """Wraps an LLM so that all calls made during one run are counted in that run's ``Usage``."""

    def __init__(self, llm: LLM, usage: Usage) -> None:
        self._llm = llm
        self.usage = usage
        self.name: str = llm.name
        self.capable: bool = llm.capable

    def chat(self, messages: list[dict[str, str]], *, json_schema: dict[str, Any] | None = None,
             max_tokens: int = 512, temperature: float = 0.0, stage: str = "other") -> ChatResult:
        with get_tracer().start_as_current_span(LLM_SPAN, record_exception=False,
                                                set_status_on_exception=False) as span:
            recording = span.is_recording()
            if recording:
                span.set_attributes(self._request_attributes(messages, json_schema, max_tokens, temperature, stage))
            try:
                out = self._llm.chat(messages, json_schema=json_schema, max_tokens=max_tokens,
                                     temperature=temperature, stage=stage)
            except Exception as exc:
                record_llm_call(stage, 0, 0, ok=False)
                if recording:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:300]))
                    span.set_attribute("error.type", type(exc).__name__)
                raise
            self.usage.add(out.prompt_tokens, out.completion_tokens, stage)
            record_llm_call(stage, out.prompt_tokens, out.completion_tokens)
            if recording:
                span.set_attributes(self._response_attributes(out))
        return out

    def _request_attributes(self, messages: list[dict[str, str]], json_schema: dict[str, Any] | None,
                            max_tokens: int, temperature: float, stage: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "openinference.span.kind": "LLM",
            "llm.system": str(self.name),  # the backend (embedded, openai); the model name comes with the answer
            "llm.invocation_parameters": json.dumps({"max_tokens": max_tokens, "temperature": temperature,
                                                     "json_schema": json_schema is not None}),
            "hugginggpt.stage": stage,
        }
        if content_enabled():
            attrs["input.value"] = json.dumps(messages, ensure_ascii=False)
            attrs["input.mime_type"] = "application/json"
            for i, m in enumerate(messages):
                attrs[f"llm.input_messages.{i}.message.role"] = str(m.get("role", ""))
                attrs[f"llm.input_messages.{i}.message.content"] = str(m.get("content", ""))
        return attrs

    def _response_attributes(self, out: ChatResult) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "llm.model_name": out.model or str(self.name),
            "llm.token_count.prompt": out.prompt_tokens,
            "llm.token_count.completion": out.completion_tokens,
            "llm.token_count.total": out.prompt_tokens + out.completion_tokens,
        }
        if out.finish_reason:
            attrs["llm.finish_reason"] = out.finish_reason
        if content_enabled():
            attrs["output.value"] = out.text
            attrs["output.mime_type"] = "text/plain"
            attrs["llm.output_messages.0.message.role"] = "assistant"
            attrs["llm.output_messages.0.message.content"] = out.text
        return attrs

    def describe(self) -> dict[str, Any]:
        return self._llm.describe()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)
