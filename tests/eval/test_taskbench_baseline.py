"""The TaskBench baseline planner over a scripted LLM client (the LLM protocol of hugginggpt.llm.base)."""

from __future__ import annotations

import json

import pytest

from hugginggpt.errors import PlanError
from hugginggpt.eval.baseline import TaskBenchBaselinePlanner, parse_result, result_to_plan
from hugginggpt.eval.taskbench import plan_to_nodes
from llm_doubles import ScriptedLLM

GOOD = {"task_steps": ["Step 1: caption", "Step 2: speak"],
        "task_nodes": [{"task": "Image-to-Text", "arguments": ["example.jpg"]},
                       {"task": "Text-to-Speech", "arguments": ["<node-0>"]}]}


def test_prompt_follows_the_paper_layout(tools):
    llm = ScriptedLLM(json.dumps(GOOD))
    planner = TaskBenchBaselinePlanner(llm, tools, demos=[{"request": "demo request", "result": GOOD}])
    out = planner.plan("Describe example.jpg and read it aloud.", None)
    call = llm.calls[0]
    assert len(call["messages"]) == 1 and call["messages"][0]["role"] == "user"
    prompt = call["messages"][0]["content"]
    # tool list as JSON lines, goal, requirements, the example, the request, then "# RESULT #:" at the very end
    for line in (json.dumps(t.to_json()) for t in tools):
        assert line in prompt
    order = [prompt.index(s) for s in ("# TOOL LIST #", "# GOAL #", "# REQUIREMENTS #", "# EXAMPLE #",
                                       "demo request", "Describe example.jpg")]
    assert order == sorted(order)
    assert prompt.rstrip().endswith("# RESULT #:")
    assert call["temperature"] == pytest.approx(0.2) and call["max_tokens"] == 2000 and call["stage"] == "plan"
    assert call["json_schema"] is None  # the paper did not constrain decoding
    assert [t.task for t in out.plan.tasks] == ["Image-to-Text", "Text-to-Speech"]
    assert out.plan.tasks[1].dep == [0]
    assert [n.to_json() for n in plan_to_nodes(out.plan)] == GOOD["task_nodes"]


def test_constrained_decoding_offers_the_tool_names(tools):
    llm = ScriptedLLM(json.dumps(GOOD))
    TaskBenchBaselinePlanner(llm, tools, constrain=True).plan("x", None)
    schema = llm.calls[0]["json_schema"]
    assert schema["properties"]["task_nodes"]["items"]["properties"]["task"]["enum"] == tools.names


@pytest.mark.parametrize("text", [
    json.dumps(GOOD),
    "Sure! Here is the plan:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```",
    "# RESULT #: " + json.dumps(GOOD) + "\nHope this helps.",
    json.dumps([{"task_steps": GOOD["task_steps"]}, {"task_nodes": GOOD["task_nodes"]}]),
    json.dumps(GOOD["task_nodes"]),
    json.dumps(GOOD).replace("Image-to-Text", "Image\\\\_to\\\\_Text").replace("\\\\_", "\\_"),
])
def test_parse_result_variants(text):
    result = parse_result(text)
    assert len(result["task_nodes"]) == 2


@pytest.mark.parametrize("text", ["", "I cannot help with that.", '{"task_steps": ["a"]}', "[1, 2]"])
def test_parse_result_rejects_non_answers(text):
    with pytest.raises(ValueError):
        parse_result(text)


def test_result_to_plan_keeps_what_the_model_said():
    plan = result_to_plan({"task_nodes": [
        {"task": "Web Search", "arguments": "cats"},  # a tool outside the list, a string argument
        {"task": "Translation", "arguments": ["Summary: <node-0>", 3, {"name": "t", "value": "x"}]},
        {"task": "Text-to-Speech", "arguments": {"text": "<node-1>"}},
        {"task": "Translation", "arguments": ["<node-3>", "<node-9>"]},  # self and dangling references
    ]})
    assert [t.task for t in plan.tasks] == ["Web Search", "Translation", "Text-to-Speech", "Translation"]
    assert plan.tasks[1].dep == [0] and plan.tasks[2].dep == [1] and plan.tasks[3].dep == [-1]
    nodes = plan_to_nodes(plan)
    assert nodes[0].arguments == ["cats"]
    assert nodes[1].arguments == ["Summary: <node-0>", "3", "x"]
    assert nodes[2].arguments == ["<node-1>"]
    assert nodes[3].arguments == ["<node-3>", "<GENERATED>-9"]


def test_unreadable_answer_raises_plan_error(tools):
    planner = TaskBenchBaselinePlanner(ScriptedLLM("no JSON here"), tools)
    with pytest.raises(PlanError):
        planner.plan("x", None)


def test_parameter_tools_get_the_parameter_goal():
    from hugginggpt.eval.tools import ToolList, ToolParameter, ToolSpec

    tools = ToolList([ToolSpec("take_note", "Take a note", parameters=(ToolParameter("content"),))])
    llm = ScriptedLLM('{"task_nodes": [{"task": "take_note", "arguments": [{"name": "content", "value": "milk"}]}]}')
    out = TaskBenchBaselinePlanner(llm, tools).plan("note: milk", None)
    assert '"parameters"' in llm.calls[0]["messages"][0]["content"]
    assert "task_links" in llm.calls[0]["messages"][0]["content"]
    assert plan_to_nodes(out.plan)[0].arguments == ["milk"]
