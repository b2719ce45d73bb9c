"""Per-run token accounting: a thin proxy that records every call's tokens in a ``Usage``."""

from __future__ import annotations

from typing import Any

from .base import ChatResult, Usage


class TrackedLLM:
    """Wraps an LLM so that all calls made during one run are counted in that run's ``Usage``."""

    def __init__(self, llm: Any, usage: Usage) -> None:
        self._llm = llm
        self.usage = usage
        self.name = llm.name
        self.capable = llm.capable

    def chat(self, messages: list[dict[str, str]], *, json_schema: dict[str, Any] | None = None,
             max_tokens: int = 512, temperature: float = 0.0, stage: str = "other") -> ChatResult:
        out = self._llm.chat(messages, json_schema=json_schema, max_tokens=max_tokens, temperature=temperature,
                             stage=stage)
        self.usage.add(out.prompt_tokens, out.completion_tokens, stage)
        return out

    def describe(self) -> dict[str, Any]:
        return self._llm.describe()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)
