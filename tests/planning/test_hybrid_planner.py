"""HybridPlanner: the offline proposal, one constrained review call, edits applied, fallbacks with notes.

Most tests use ``ScriptedLLM`` (a test double) and ``FixedPlanner`` (a test double standing in for the offline
planner) so each edit is exercised on a known plan; one slow test runs the real embedded LLM on the real offline
planner's proposals.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hugginggpt.agent import HuggingGPT
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.errors import ConfigError, LLMUnavailable, PlanError
from hugginggpt.plan_schema import Plan, ref_id
from hugginggpt.planning.base import PlanContext, PlanOutcome
from hugginggpt.planning.hybrid_planner import HybridPlanner
from hugginggpt.planning.offline_planner import OfflinePlanner
from hugginggpt.planning.validate import validate_plan
from hugginggpt.tasks import default_registry
from llm_doubles import ScriptedLLM

REG = default_registry()

# audio clean-up -> transcription -> speech; and an image described then translated.
CHAIN = Plan.from_jarvis([
    {"task": "audio-to-audio", "id": 0, "dep": [-1], "args": {"audio": "example.wav"}},
    {"task": "automatic-speech-recognition", "id": 1, "dep": [0], "args": {"audio": "<GENERATED>-0"}},
    {"task": "text-to-speech", "id": 2, "dep": [1], "args": {"text": "<GENERATED>-1"}},
])
CAPTION_TRANSLATE = Plan.from_jarvis([
    {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "example.jpg"}},
    {"task": "translation", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
    {"task": "text-to-image", "id": 2, "dep": [-1], "args": {"text": "inspired by the French translation"}},
])




class FixedPlanner:
    """Test double for the offline planner: returns a fixed plan (or raises a fixed error)."""

    name = "offline"

    def __init__(self, plan: Plan | Exception) -> None:
        self.result = plan

    def plan(self, request: str, context: PlanContext) -> PlanOutcome:
        if isinstance(self.result, Exception):
            raise self.result
        return PlanOutcome(plan=self.result, planner=self.name, notes=["fixed"])


def hybrid(plan: Plan | Exception, *answers: str | Exception) -> tuple[HybridPlanner, ScriptedLLM]:
    llm = ScriptedLLM(*answers)
    return HybridPlanner(llm, REG, offline=FixedPlanner(plan)), llm


def review(**items: dict[str, str]) -> str:
    return json.dumps(items)


def test_schema_fixes_the_tasks_and_lets_only_literal_text_change() -> None:
    planner, _ = hybrid(CAPTION_TRANSLATE)
    schema = planner.edit_schema(CAPTION_TRANSLATE)
    assert schema["required"] == ["t0", "t1", "t2"] and schema["additionalProperties"] is False
    t0, t1, t2 = (schema["properties"][k]["properties"] for k in ("t0", "t1", "t2"))
    assert t0 == {"keep": {"type": "string", "enum": ["yes", "no"]}}  # an image slot is never editable
    # the text slot holds <GENERATED>-0: fixed; the optional target language is a literal the review may set
    assert set(t1) == {"keep", "language"} and t1["language"]["type"] == "string"
    assert set(t2) == {"keep", "text"} and t2["text"]["type"] == "string"


def test_the_prompt_shows_the_proposal_and_the_call_is_constrained() -> None:
    planner, llm = hybrid(CAPTION_TRANSLATE, review(t0={"keep": "yes"}, t1={"keep": "yes"}, t2={"keep": "yes"}))
    outcome = planner.plan("Describe example.jpg, translate it to French and draw it.", PlanContext(registry=REG))
    assert outcome.planner == "hybrid" and outcome.plan == CAPTION_TRANSLATE
    assert any("unchanged" in n for n in outcome.notes)
    (call,) = llm.calls
    user = call["messages"][-1]["content"]
    assert 't1: translation(text="<GENERATED>-0") -> text' in user and "may rewrite: text" in user
    assert call["json_schema"] == planner.edit_schema(CAPTION_TRANSLATE) and call["stage"] == "plan"


@pytest.mark.parametrize("garbage", ["not json at all", "[1, 2]", '{"t7": {"keep": "yes"}}', "{}"])
def test_garbage_falls_back_to_the_offline_plan_with_a_note(garbage: str) -> None:
    planner, _ = hybrid(CHAIN, garbage)
    outcome = planner.plan("clean, transcribe and read example.wav", PlanContext(registry=REG))
    assert outcome.plan == CHAIN
    assert any(n.startswith("hybrid: kept the offline plan") for n in outcome.notes)


def test_a_fenced_review_is_read() -> None:
    planner, _ = hybrid(CHAIN, "```json\n" + review(t0={"keep": "yes"}, t1={"keep": "yes"}, t2={"keep": "no"})
                        + "\n```")
    outcome = planner.plan("x", PlanContext(registry=REG))
    assert sorted(outcome.plan.by_id()) == [0, 1]


def test_dropping_every_task_or_an_llm_error_keeps_the_offline_plan() -> None:
    planner, _ = hybrid(CHAIN, review(t0={"keep": "no"}, t1={"keep": "no"}, t2={"keep": "no"}))
    outcome = planner.plan("x", PlanContext(registry=REG))
    assert outcome.plan == CHAIN and any("dropped every task" in n for n in outcome.notes)
    planner, _ = hybrid(CHAIN, LLMUnavailable("endpoint down"))
    outcome = planner.plan("x", PlanContext(registry=REG))
    assert outcome.plan == CHAIN and any("LLMUnavailable" in n for n in outcome.notes)


def test_dropping_a_task_rewires_its_user_to_its_input_and_recomputes_deps() -> None:
    planner, _ = hybrid(CHAIN, review(t0={"keep": "no"}, t1={"keep": "yes"}, t2={"keep": "yes"}))
    outcome = planner.plan("transcribe example.wav and read it aloud", PlanContext(registry=REG))
    by_id = outcome.plan.by_id()
    assert sorted(by_id) == [1, 2]
    assert by_id[1].args == {"audio": "example.wav"} and by_id[1].dep == [-1]
    assert by_id[2].args == {"text": "<GENERATED>-1"} and by_id[2].dep == [1]
    assert validate_plan(outcome.plan, REG) == []
    assert any("dropped task 0" in n for n in outcome.notes)


def test_dropping_a_producer_without_a_fitting_input_drops_its_users_too() -> None:
    planner, _ = hybrid(CAPTION_TRANSLATE, review(t0={"keep": "no"}, t1={"keep": "yes"}, t2={"keep": "yes"}))
    outcome = planner.plan("x", PlanContext(registry=REG))
    assert [t.task for t in outcome.plan.tasks] == ["text-to-image"]  # translation needed the caption's text
    assert any("dropped too" in n for n in outcome.notes)


def test_a_rewritten_text_argument_is_applied_and_a_smuggled_reference_is_not() -> None:
    planner, _ = hybrid(CAPTION_TRANSLATE, review(t0={"keep": "yes"}, t1={"keep": "yes"},
                                                  t2={"keep": "yes", "text": "a fox in the snow"}))
    outcome = planner.plan("x", PlanContext(registry=REG))
    assert outcome.plan.by_id()[2].args == {"text": "a fox in the snow"}
    assert outcome.plan.by_id()[1].args == {"text": "<GENERATED>-0"}
    assert any("'text' rewritten" in n for n in outcome.notes)

    planner, _ = hybrid(CAPTION_TRANSLATE, review(t0={"keep": "yes"}, t1={"keep": "yes"},
                                                  t2={"keep": "yes", "text": "<GENERATED>-0"}))
    outcome = planner.plan("x", PlanContext(registry=REG))
    assert outcome.plan == CAPTION_TRANSLATE and any("reference" in n for n in outcome.notes)


def test_no_call_when_there_is_nothing_to_decide_and_planerror_propagates() -> None:
    single = Plan.from_jarvis([{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}}])
    planner, llm = hybrid(single)
    outcome = planner.plan("what is in a.jpg", PlanContext(registry=REG))
    assert outcome.plan == single and llm.calls == []
    planner, llm = hybrid(PlanError("needs an image", issues=["missing image"]))
    with pytest.raises(PlanError, match="needs an image"):
        planner.plan("describe the photo", PlanContext(registry=REG))
    assert llm.calls == []


def test_the_agent_builds_the_hybrid_planner_only_for_a_capable_llm(tmp_path: Any) -> None:
    config = HuggingGPTConfig(planner="hybrid", workspace=tmp_path / "ws")
    agent = HuggingGPT(config, llm=ScriptedLLM(), base_dir=tmp_path)
    assert isinstance(getattr(agent.planner(), "inner", None), HybridPlanner)  # behind the plan cache
    weak = ScriptedLLM(capable=False)
    with pytest.raises(ConfigError, match="capable"):
        HuggingGPT(config, llm=weak, base_dir=tmp_path).planner()


@pytest.mark.slow
def test_the_real_embedded_llm_reviews_real_offline_plans() -> None:
    """SmolLM2 is marked capable here only to exercise the mechanism (the grammar and the edit rules), not its
    judgement."""
    from hugginggpt.llm.embedded import EmbeddedLLM

    llm = EmbeddedLLM(capable=True, n_ctx=2048)
    offline = OfflinePlanner(REG)
    planner = HybridPlanner(llm, REG, offline=offline, max_tokens=96)
    requests = ["Transcribe example.wav and read the transcript aloud.",
                "Describe example.jpg, then translate the description into French."]
    reviewed = 0
    for request in requests:
        context = PlanContext(registry=REG)
        proposal = offline.plan(request, context).plan
        outcome = planner.plan(request, context)
        assert outcome.planner == "hybrid" and validate_plan(outcome.plan, REG) == []
        before = proposal.by_id()
        kept = set(outcome.plan.by_id())
        assert kept and kept <= set(before)
        for task in outcome.plan.tasks:
            assert task.task == before[task.id].task
            for slot, value in task.args.items():
                original = before[task.id].args.get(slot, "")
                if ref_id(original) is not None and ref_id(original) in kept:
                    assert value == original  # references to kept tasks never change
                elif REG.get(task.task).slot(slot).type != "text":  # type: ignore[union-attr]
                    assert value in {a for t in proposal.tasks for a in t.args.values()}  # no invented file
        reviewed += outcome.raw is not None
    assert reviewed >= 1  # at least one proposal was actually put to the LLM
