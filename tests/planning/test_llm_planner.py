"""LLMPlanner: prompt, schema, demo choice, parse -> repair -> validate -> one re-ask -> PlanError.

The LLM here is a scripted test double (``ScriptedLLM``); the planner against a real model is tested in
tests/llm/test_openai_compat.py."""

from __future__ import annotations

import json

import pytest

from hugginggpt.errors import LLMResponseError, LLMUnavailable, PlanError, PlanTooLarge
from hugginggpt.media import looks_like_resource
from hugginggpt.plan_schema import Plan
from hugginggpt.planning import llm_planner
from hugginggpt.planning.base import KnownResource, PlanContext, PlanOutcome
from hugginggpt.planning.hybrid_planner import HybridPlanner
from hugginggpt.planning.llm_planner import DemoSelector, LLMPlanner, parse_plan_output, plan_json_schema, read_plan
from hugginggpt.planning.validate import repair_plan, validate_plan
from hugginggpt.prompts import plan_prompt
from hugginggpt.tasks import default_registry
from llm_doubles import ScriptedLLM

REG = default_registry()
GOOD = json.dumps({"tasks": [
    {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}},
    {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
]})
# Wrong: text-to-speech fed into an image slot, which no repair can fix.
BAD = json.dumps({"tasks": [
    {"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hello"}},
    {"task": "image-classification", "id": 1, "dep": [0], "args": {"image": "<GENERATED>-0"}},
]})




@pytest.fixture(autouse=True)
def _every_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the prompt's parts, parsing, repair and re-asks: the prompt shows every task. The task
    shortlist (which loads the offline planner and MiniLM) is tested in test_shortlist.py."""
    monkeypatch.setattr(llm_planner, "shortlist_for", lambda registry: None)


def ctx(*files: tuple[str, str], history: list[dict[str, str]] | None = None) -> PlanContext:
    return PlanContext(registry=REG, files=[KnownResource(n, m) for n, m in files], history=history or [])


def test_good_plan_first_time() -> None:
    llm = ScriptedLLM(GOOD)
    out = LLMPlanner(llm, REG).plan("describe a.jpg and read it aloud", ctx(("a.jpg", "image")))
    assert [t.task for t in out.plan.tasks] == ["image-to-text", "text-to-speech"]
    assert out.plan.tasks[1].dep == [0] and out.planner == "llm" and out.raw == [GOOD]
    assert len(llm.calls) == 1 and llm.calls[0]["stage"] == "plan"
    assert llm.usage.by_stage["plan"]["calls"] == 1


def test_empty_list_is_chit_chat() -> None:
    out = LLMPlanner(ScriptedLLM('{"tasks": []}'), REG).plan("hello!", ctx())
    assert out.plan.tasks == [] and any("chit-chat" in n for n in out.notes)


def test_garbage_is_reasked_then_plan_error() -> None:
    llm = ScriptedLLM("I think you should look at the picture", "Sure! Here is the plan: step one...")
    with pytest.raises(PlanError, match="readable plan") as info:
        LLMPlanner(llm, REG).plan("describe a.jpg", ctx(("a.jpg", "image")))
    assert len(llm.calls) == 2
    assert info.value.issues and "not valid plan JSON" in info.value.issues[0]
    reask = llm.calls[1]["messages"]
    assert reask[-2] == {"role": "assistant", "content": "I think you should look at the picture"}
    assert "could not be read as JSON" in reask[-1]["content"]


def test_bad_plan_then_good_plan_on_reask() -> None:
    llm = ScriptedLLM(BAD, GOOD)
    out = LLMPlanner(llm, REG).plan("describe a.jpg and read it aloud", ctx(("a.jpg", "image")))
    assert validate_plan(out.plan, REG) == []
    assert out.raw == [BAD, GOOD]
    assert any(n.startswith("re-asked with 1 validation problem") for n in out.notes)
    assert "the re-asked plan is valid" in out.notes
    reask = llm.calls[1]["messages"][-1]["content"]
    assert "type_mismatch" in reask and "cannot run" in reask


def test_bad_plan_twice_is_plan_error_with_issues() -> None:
    llm = ScriptedLLM(BAD, BAD)
    with pytest.raises(PlanError) as info:
        LLMPlanner(llm, REG).plan("say hello and classify it", ctx())
    assert any("type_mismatch" in i for i in info.value.issues)
    assert len(llm.calls) == 2


def test_repairable_plan_needs_no_reask() -> None:
    # Wrong deps, a TaskBench-style task name and an invented slot name: all fixed by repair_plan.
    raw = json.dumps({"tasks": [
        {"task": "Image-to-Text", "id": 0, "dep": [5], "args": {"img": "a.jpg"}},
        {"task": "text-to-speech", "id": 1, "dep": [], "args": {"text": "<GENERATED>-0"}},
    ]})
    llm = ScriptedLLM(raw)
    out = LLMPlanner(llm, REG).plan("describe a.jpg aloud", ctx(("a.jpg", "image")))
    assert len(llm.calls) == 1 and validate_plan(out.plan, REG) == []
    assert out.plan.tasks[0].task == "image-to-text" and out.plan.tasks[0].args == {"image": "a.jpg"}
    assert out.plan.tasks[1].dep == [0] and out.notes


def test_json_of_the_wrong_shape_is_not_chit_chat() -> None:
    llm = ScriptedLLM('{"answer": "a cat"}', GOOD)
    out = LLMPlanner(llm, REG).plan("describe a.jpg aloud", ctx(("a.jpg", "image")))
    assert len(out.plan.tasks) == 2 and "re-asked" in out.notes[0]


def test_bad_llm_answer_error_counts_as_unreadable_but_outage_propagates() -> None:
    llm = ScriptedLLM(LLMResponseError("empty answer"), GOOD)
    assert len(LLMPlanner(llm, REG).plan("describe a.jpg aloud", ctx(("a.jpg", "image"))).plan.tasks) == 2
    with pytest.raises(LLMUnavailable):
        LLMPlanner(ScriptedLLM(LLMUnavailable("down")), REG).plan("hi", ctx())


def test_prompt_has_tasks_demos_files_and_history() -> None:
    llm = ScriptedLLM('{"tasks": []}')
    history = [{"role": "user", "content": "make a picture of a boat"},
               {"role": "assistant", "content": "Here it is: ws/boat.png"}]
    LLMPlanner(llm, REG, demos_k=3, shortlist=False).plan("now read the text in it aloud",
                                                          ctx(("ws/boat.png", "image"), history=history))
    messages = llm.calls[0]["messages"]
    system = messages[0]["content"]
    for task in REG:
        assert task.signature() in system
    assert "<GENERATED>-k" in system
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * 3
    for demo_answer in messages[2:-1:2]:
        assert "tasks" in json.loads(demo_answer["content"])
    last = messages[-1]["content"]
    assert "ws/boat.png (image)" in last and "make a picture of a boat" in last
    assert last.rstrip().endswith("Request: now read the text in it aloud")


def test_schema_restricts_task_names_and_slots() -> None:
    branches = plan_json_schema(REG)["properties"]["tasks"]["items"]["anyOf"]
    assert [b["properties"]["task"]["const"] for b in branches] == REG.names
    qa = next(b for b in branches if b["properties"]["task"]["const"] == "question-answering")
    assert set(qa["properties"]["args"]["properties"]) == {"text", "context"}
    assert qa["properties"]["args"]["required"] == ["text", "context"]
    i2i = next(b for b in branches if b["properties"]["task"]["const"] == "image-to-image")
    assert i2i["properties"]["args"]["required"] == ["image"]  # its text slot is optional
    assert all(b["properties"]["args"]["additionalProperties"] is False for b in branches)
    # The flat variant, for servers with weaker schema support.
    item = plan_json_schema(REG, per_task_slots=False)["properties"]["tasks"]["items"]
    assert item["properties"]["task"]["enum"] == REG.names
    assert {"image", "audio", "text", "text2", "context", "labels"} <= set(item["properties"]["args"]["properties"])


def test_reask_that_drops_every_task_is_not_accepted() -> None:
    llm = ScriptedLLM(BAD, '{"tasks": []}')
    with pytest.raises(PlanError) as info:
        LLMPlanner(llm, REG).plan("say hello and classify it", ctx())
    assert any("type_mismatch" in i for i in info.value.issues)
    assert "the re-asked answer dropped every task" in info.value.issues


def test_demos_are_valid_plans() -> None:
    demos = plan_prompt().demos
    assert len(demos) >= 8 and any(not d["tasks"] for d in demos)
    for demo in demos:
        plan = Plan.from_jarvis(demo["tasks"])
        assert validate_plan(plan, REG) == [], demo["request"]
        files = {f["name"] for f in demo.get("files", [])}
        for task in plan.tasks:
            for value in task.args.values():
                if looks_like_resource(value):
                    assert value in files, f"{demo['request']}: {value} is not a listed file"


def test_demo_selection_by_similarity() -> None:
    selector = DemoSelector(plan_prompt().demos)
    picked = selector.select("Please transcribe interview.wav and summarize what was said", k=3)
    assert len(picked) == 3
    assert picked[-1]["request"].startswith("Transcribe meeting.wav")  # the most similar is shown last
    assert any(not d["tasks"] for d in picked)  # an empty-plan demo is always among them
    assert selector.select("anything", k=0) == []
    only = selector.select("Please transcribe interview.wav and summarize what was said", k=1)
    assert len(only) == 1 and only[0]["tasks"]  # with room for one demo, the best match wins


def test_parse_plan_output_tolerates_fences_and_prose() -> None:
    assert parse_plan_output('```json\n{"tasks": []}\n```') == {"tasks": []}
    assert parse_plan_output('Here you go: [{"task": "translation"}] done') == [{"task": "translation"}]
    with pytest.raises(ValueError):
        parse_plan_output("no json here")
    plan, _ = repair_plan(parse_plan_output(GOOD), REG)
    assert validate_plan(plan, REG) == []


# -- hostile answers: each ends as a re-ask, a valid plan or a PlanError naming the limit -----------------------


def test_bracket_flood_is_reasked_not_a_recursion_error() -> None:
    # Was: RecursionError out of parse_plan_output("[" * 5000), then out of run().
    llm = ScriptedLLM("[" * 5000, GOOD)
    out = LLMPlanner(llm, REG).plan("describe a.jpg and read it aloud", ctx(("a.jpg", "image")))
    assert len(out.plan.tasks) == 2 and "nested more than 16 levels" in out.notes[0]
    with pytest.raises(PlanTooLarge):
        parse_plan_output("Here: " + "[" * 5000)


def test_too_many_tasks_twice_is_a_plan_error_naming_the_limit() -> None:
    many = json.dumps([{"task": "summarization", "id": i, "args": {"text": "t"}} for i in range(1000)])
    llm = ScriptedLLM(many, many)
    with pytest.raises(PlanError, match="1000 tasks; the limit is 5 \\(max_plan_tasks\\)"):
        LLMPlanner(llm, REG).plan("summarize a lot", PlanContext(registry=REG, max_tasks=5))
    assert len(llm.calls) == 2


def test_read_plan_turns_every_unreadable_answer_into_a_plan_error() -> None:
    for text in ("no json", '{"answer": 1}', "[" * 100, "1" * 5000, '{"tasks": [' + "0," * 10 + "]}"):
        with pytest.raises(PlanError):
            read_plan(text, REG)


def test_hybrid_review_too_deep_keeps_the_offline_plan() -> None:
    class Fixed:
        name = "offline"

        def plan(self, request: str, context: PlanContext) -> PlanOutcome:
            return PlanOutcome(plan=Plan.from_jarvis(json.loads(GOOD)["tasks"]), planner="offline")

    out = HybridPlanner(ScriptedLLM("[" * 5000), REG, offline=Fixed()).plan("x", ctx())
    assert [t.task for t in out.plan.tasks] == ["image-to-text", "text-to-speech"]
    assert any("nested more than 16 levels" in n for n in out.notes)
