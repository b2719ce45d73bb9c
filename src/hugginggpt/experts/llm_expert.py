"""The controller LLM as an expert for text tasks it can do itself (summarization, translation, writing, chat)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from ..errors import ExpertError
from ..guard import guard_text
from ..llm.base import LLM
from .base import Expert, ExpertResult, require_text

# Tasks any LLM may do; the others need a capable one (a 135M model summarizes and translates wrongly).
ANY_LLM_TASKS = {"text-generation", "conversational"}
_MIN_WORDS = 3  # a guarded text shorter than this is no result


@lru_cache(maxsize=1)
def _prompts() -> dict[str, dict[str, str]]:
    text = resources.files("hugginggpt.experts").joinpath("llm_tasks.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def llm_model_id(llm: LLM) -> str:
    return f"llm/{llm.name}"


class LLMTaskExpert(Expert):
    """Runs one text task with the controller LLM, using the prompt in ``llm_tasks.yaml``."""

    backend = "llm"
    task = "text-generation"
    model_id = "llm"

    def __init__(self, llm: LLM, task: str, request: str = "") -> None:
        super().__init__()
        self.llm = llm
        self.task = task
        self.model_id = llm_model_id(llm)
        self.request = request

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        text = require_text(inputs)
        prompt = _prompts()[self.task]
        user = prompt["user_on_result"] if "user_on_result" in prompt and self._from_elsewhere(text) else prompt["user"]
        messages = [{"role": "system", "content": prompt["system"]},
                    {"role": "user", "content": user.format(text=text, request=self.request or text,
                                                            target=_target(inputs))}]
        out = self.llm.chat(messages, max_tokens=400, stage="execute")
        # A text task makes text only: a sentence claiming an image or audio is removed, a loop is stopped, an
        # answer cut at the token limit ends at its last full sentence.
        report = guard_text(out.text, finish_reason=out.finish_reason)
        if report.tripped and report.words() < _MIN_WORDS:
            raise ExpertError(f"The language model ({out.model or self.llm.name}) wrote no usable {self.task} text: "
                              f"its answer {'; '.join(report.problems)}.",
                              hint="A small embedded model may loop on this; a larger LLM can be configured "
                                   "(llm.backend: openai, or llm.gguf_path).")
        guarded = {"guard": report.problems} if report.problems else {}
        return ExpertResult.of_text(report.text, model=out.model, **guarded)

    def _from_elsewhere(self, text: str) -> bool:
        """Whether ``text`` is not the request's own words (an earlier task's output), so the request must come
        with it to say what to do."""
        def words(s: str) -> str:
            return " ".join(s.lower().split())
        return bool(self.request) and words(text) not in words(self.request)


def _target(inputs: dict[str, Any]) -> str:
    """Where a translation goes: the plan's optional ``language``, else what the request asks (default English)."""
    language = str(inputs.get("language") or "").strip()
    return f"into {language}" if language else "as the request asks (default: into English)"


def llm_tasks() -> list[str]:
    return [k for k in _prompts() if not k.startswith("_")]


POLISH_ID = "hugginggpt/extractive-summary-llm-polish"


class PolishedSummarizer(Expert):
    """Extractive summary (MiniLM) rewritten by the controller LLM into one fluent sentence.

    Opt-in (``overrides: {summarization: hugginggpt/extractive-summary-llm-polish}``): even the packaged 135M model
    writes acceptable one-sentence rewrites of a few given sentences, but it may drop or distort facts, so the
    extractive summary stays the default and is kept in the result's data for comparison.
    """

    backend = "llm"
    task = "summarization"
    model_id = POLISH_ID
    description = "MiniLM extractive summary, rewritten into one sentence by the controller LLM."
    limitations = "A small LLM may distort facts; the extractive summary is returned in data['extractive']."

    def __init__(self, llm: LLM) -> None:
        super().__init__()
        self.llm = llm

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        from .embedded.text import ExtractiveSummarizer

        extractor = ExtractiveSummarizer()
        extract = extractor.run({"text": require_text(inputs)}).outputs[0].text or ""
        prompt = _prompts()["_summary_polish"]
        out = self.llm.chat([{"role": "system", "content": prompt["system"]},
                             {"role": "user", "content": prompt["user"].format(text=extract)}],
                            max_tokens=120, stage="execute")
        report = guard_text(out.text, finish_reason=out.finish_reason)
        polished = "" if report.tripped else report.text  # a looping or cut rewrite is worse than the extract
        guarded = {"guard": report.problems} if report.problems else {}
        return ExpertResult.of_text(polished or extract, extractive=extract, polished=bool(polished), **guarded)
