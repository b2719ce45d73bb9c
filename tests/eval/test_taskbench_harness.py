"""The harness: any Planner in, plans converted to TaskBench form, failures counted; and the CLI end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hugginggpt.errors import PlanError
from hugginggpt.eval.data import Node, Sample
from hugginggpt.eval.taskbench import evaluate, plan_to_nodes
from hugginggpt.eval.tools import bind_tools
from hugginggpt.plan_schema import Plan
from hugginggpt.planning.base import PlanContext, PlanOutcome

ROOT = Path(__file__).resolve().parents[2]
TASKBENCH = Path(os.environ.get("HUGGINGGPT_TASKBENCH_DIR", ROOT.parent / "shared" / "taskbench"))


class TablePlanner:
    """Answers from a request -> JARVIS plan table; raises for requests it does not know."""

    name = "table"

    def __init__(self, table: dict[str, list[dict]]) -> None:
        self.table = table
        self.contexts: list[PlanContext] = []

    def plan(self, request: str, context: PlanContext) -> PlanOutcome:
        self.contexts.append(context)
        if request not in self.table:
            raise PlanError("no idea")
        if request == "boom":
            raise RuntimeError("a bug in the planner")
        return PlanOutcome(plan=Plan.from_jarvis(self.table[request]), planner=self.name)


def gold(sid, kind, nodes):
    return Sample(id=sid, type=kind, instruction=sid, nodes=nodes, raw_nodes=nodes)


def test_plan_to_nodes_maps_names_and_references():
    plan = Plan.from_jarvis([
        {"task": "image-to-text", "id": 3, "dep": [-1], "args": {"image": "example.jpg"}},
        {"task": "translation", "id": 7, "dep": [3], "args": {"text": "<GENERATED>-3"}},
        {"task": "text-to-speech", "id": 9, "dep": [7], "args": {"text": "Say: <GENERATED>-7 <GENERATED>-42"}},
    ])
    names = {"image-to-text": "Image-to-Text", "translation": "Translation"}
    nodes = plan_to_nodes(plan, lambda t: names.get(t, t))
    assert [n.to_json() for n in nodes] == [
        {"task": "Image-to-Text", "arguments": ["example.jpg"]},
        {"task": "Translation", "arguments": ["<node-0>"]},
        {"task": "text-to-speech", "arguments": ["Say: <node-1> <GENERATED>-42"]},
    ]


def test_evaluate_counts_failures_and_never_stops(tools):
    binding = bind_tools(tools)
    samples = [
        gold("caption", "chain", [Node("Image-to-Text", ["example.jpg"]), Node("Translation", ["<node-0>"])]),
        gold("unknown", "single", [Node("Translation", ["hi"])]),
        gold("boom", "single", [Node("Text-to-Speech", ["hi"])]),
    ]
    planner = TablePlanner({
        "caption": [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "example.jpg"}},
                    {"task": "translation", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}],
        "boom": [],
    })
    result = evaluate(samples, planner, binding)
    assert all(c.registry is binding.registry for c in planner.contexts)
    first = result.predictions[0]
    assert [n.to_json() for n in first.nodes] == [{"task": "Image-to-Text", "arguments": ["example.jpg"]},
                                                  {"task": "Translation", "arguments": ["<node-0>"]}]
    s = result.summary()
    assert s["failed"] == 2 and s["failures"] == {"PlanError": 1, "RuntimeError": 1}
    assert s["n_samples"] == 3 and s["original"]["n_samples"] == 1 and s["original"]["dropped"] == 2
    # strict: chain sample perfect (tp 2), the two failures are empty plans (fn 2) -> F1 = 4 / 6
    assert s["n_f1"] == pytest.approx(2 / 3)
    assert s["original"]["n_f1"] == 1.0
    assert s["by_type"]["single"]["failed"] == 2 and s["by_type"]["chain"]["failed"] == 0
    assert s["by_type"]["dag"]["n_samples"] == 0 and s["by_type"]["dag"]["n_f1"] is None
    assert s["seconds_per_request"] >= 0 and s["seconds_median"] >= 0
    assert result.predictions[2].error_type == "RuntimeError"
    assert json.loads(json.dumps(result.predictions[1].to_json()))["failed"] is True


def test_cli_reports_bad_inputs(tmp_path):
    from hugginggpt.cli import app

    res = CliRunner().invoke(app, ["eval", "taskbench", "--data", str(tmp_path / "x.jsonl"),
                                   "--tools", str(tmp_path / "t.json"), "--json"])
    assert res.exit_code == 2
    assert json.loads(res.stdout.strip().splitlines()[-1])["error"]["code"] == "config_error"


METRICS = ("n_f1", "e_f1", "t_f1", "v_f1", "ned")


@pytest.mark.skipif(not (TASKBENCH / "huggingface_dev.jsonl").exists(),
                    reason=f"TaskBench data not found at {TASKBENCH} (set HUGGINGGPT_TASKBENCH_DIR)")
def test_cli_on_ten_dev_samples_with_the_offline_planner(tmp_path):
    from hugginggpt.cli import app

    preds = tmp_path / "preds.jsonl"
    res = CliRunner().invoke(app, [
        "eval", "taskbench", "--data", str(TASKBENCH / "huggingface_dev.jsonl"),
        "--tools", str(TASKBENCH / "data_huggingface" / "tool_desc.json"),
        "--planner", "offline", "--limit", "10", "--json", "--predictions", str(preds)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for key in (*METRICS, "n_samples", "failed", "seconds_per_request", "seconds_median", "by_type", "original",
                "normalization", "planner", "domain"):
        assert key in out, key
    assert out["planner"] == "offline" and out["domain"] == "huggingface" and out["rule"] == "strict"
    assert out["n_samples"] == 10 and 0 <= out["failed"] <= 10
    assert out["seconds_per_request"] >= 0
    for m in (out, out["original"]):
        for k in METRICS:
            assert 0.0 <= m[k] <= 1.0, (k, m[k])
    assert set(out["by_type"]) == {"single", "chain", "dag"}
    assert sum(t["n_samples"] for t in out["by_type"].values()) == 10
    for t in out["by_type"].values():
        for k in METRICS:
            assert t[k] is None or 0.0 <= t[k] <= 1.0
    assert out["original"]["n_samples"] == 10 - out["failed"]
    assert len(preds.read_text().splitlines()) == 10


class JarvisLLM:
    """A scripted controller LLM that always answers the same JARVIS plan."""

    name = "scripted"
    capable = True

    def __init__(self, plan: list[dict]) -> None:
        self.text = json.dumps({"tasks": plan})

    def chat(self, messages, *, json_schema=None, max_tokens=512, temperature=0.0, stage="other"):
        from hugginggpt.llm.base import ChatResult

        return ChatResult(text=self.text)

    def describe(self):
        return {"backend": "scripted", "model": "none", "capable": True}


def test_llm_planner_plans_over_the_bound_tool_list(tools):
    from hugginggpt.eval.taskbench import make_planner
    from hugginggpt.eval.tools import ToolList, ToolSpec

    toolset = ToolList([*tools, ToolSpec("Video Stabilizer", "Steady a video.", ("video",), ("video",))])
    binding = bind_tools(toolset)
    llm = JarvisLLM([{"task": "automatic-speech-recognition", "id": 0, "dep": [-1], "args": {"audio": "a.wav"}},
                     {"task": "Video Stabilizer", "id": 1, "dep": [-1], "args": {"video": "b.mp4"}}])
    planner = make_planner("llm", binding, lambda: llm)
    assert planner.registry is binding.registry
    result = evaluate([gold("s", "dag", [Node("Automatic Speech Recognition", ["a.wav"]),
                                         Node("Video Stabilizer", ["b.mp4"])])], planner, binding)
    assert [n.to_json() for n in result.predictions[0].nodes] == [
        {"task": "Automatic Speech Recognition", "arguments": ["a.wav"]},
        {"task": "Video Stabilizer", "arguments": ["b.mp4"]}]
    assert result.summary()["n_f1"] == 1.0


def test_make_planner_errors(tools):
    from hugginggpt.errors import ConfigError
    from hugginggpt.eval.taskbench import make_planner

    with pytest.raises(ConfigError):
        make_planner("magic", bind_tools(tools))
    with pytest.raises(ConfigError):
        make_planner("taskbench-baseline", bind_tools(tools), None)


class DropLastLLM:
    """A scripted reviewer (a fake LLM, the hybrid planner's review call only): keeps every proposed task but the
    last, whatever the schema offers."""

    name = "scripted"
    capable = True

    def __init__(self) -> None:
        self.calls = 0

    def chat(self, messages, *, json_schema=None, max_tokens=512, temperature=0.0, stage="other"):
        from hugginggpt.llm.base import ChatResult

        self.calls += 1
        keys = list(json_schema["properties"])
        return ChatResult(text=json.dumps({k: {"keep": "no" if k == keys[-1] else "yes"} for k in keys}))

    def describe(self):
        return {"backend": "scripted", "model": "none", "capable": True}


def test_hybrid_planner_reviews_the_offline_plan_over_the_bound_tool_list(tools):
    from hugginggpt.eval.taskbench import make_planner
    from hugginggpt.planning.hybrid_planner import HybridPlanner

    binding = bind_tools(tools)
    llm = DropLastLLM()
    planner = make_planner("hybrid", binding, lambda: llm)
    assert isinstance(planner, HybridPlanner) and planner.registry is binding.registry
    request = "Transcribe example.wav, then translate the transcript into French."
    result = evaluate([gold(request, "chain", [Node("Automatic Speech Recognition", ["example.wav"])])],
                      planner, binding)
    assert llm.calls == 1
    assert [n.to_json() for n in result.predictions[0].nodes] == [
        {"task": "Automatic Speech Recognition", "arguments": ["example.wav"]}]
    assert result.summary()["n_f1"] == 1.0
