"""A test double for the controller LLM, shared by the planner, model-choice, evaluation and end-to-end tests.

It stands in for what cannot be triggered on demand with a real model (garbage output, a bad plan then a good one,
an exception at a given call). It is not a model.
"""

from __future__ import annotations

from typing import Any

from hugginggpt.llm.base import ChatResult, Usage


class ScriptedLLM:
    """Answers each chat call with the next scripted text (or raises it if it is an exception) and records every
    call's messages, schema, limits and stage. Each call counts 100 prompt and 20 completion tokens."""

    name = "scripted"

    def __init__(self, *answers: str | Exception, capable: bool = True) -> None:
        self.answers = list(answers)
        self.capable = capable
        self.calls: list[dict[str, Any]] = []
        self.usage = Usage()

    def chat(self, messages: list[dict[str, str]], *, json_schema: dict[str, Any] | None = None,
             max_tokens: int = 512, temperature: float = 0.0, stage: str = "other") -> ChatResult:
        self.calls.append({"messages": messages, "json_schema": json_schema, "max_tokens": max_tokens,
                           "temperature": temperature, "stage": stage})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        self.usage.add(100, 20, stage)
        return ChatResult(text=answer, prompt_tokens=100, completion_tokens=20, finish_reason="stop")

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "model": "none", "capable": self.capable}
