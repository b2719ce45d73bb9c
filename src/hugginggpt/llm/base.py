"""The controller LLM protocol: ``chat(messages, json_schema=...) -> ChatResult`` plus token accounting."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass
class Usage:
    """Running token accounting of one run (or one client)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_stage: dict[str, dict[str, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, prompt: int, completion: int, stage: str = "other") -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion
            s = self.by_stage.setdefault(stage, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
            s["calls"] += 1
            s["prompt_tokens"] += prompt
            s["completion_tokens"] += completion

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "total_tokens": self.total_tokens,
                "by_stage": self.by_stage}


@dataclass
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    finish_reason: str | None = None


@runtime_checkable
class LLM(Protocol):
    """What every controller backend offers.

    ``capable`` says whether the model is strong enough to plan and to choose models; small embedded models are
    not, and the agent never routes planning to them silently.
    """

    name: str
    capable: bool

    def chat(self, messages: list[dict[str, str]], *, json_schema: dict[str, Any] | None = None,
             max_tokens: int = 512, temperature: float = 0.0, stage: str = "other") -> ChatResult:
        """One chat completion. With ``json_schema`` the output is constrained to it where the backend can."""
        ...

    def describe(self) -> dict[str, Any]:
        """Facts for ``hugginggpt doctor``: backend, model, capable, available, reason."""
        ...
