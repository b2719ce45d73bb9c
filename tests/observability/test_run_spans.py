"""The span tree of a real run (offline planner, embedded experts, a generated PNG, "describe this image"):
run > stages > task > expert, with the controller LLM calls (a scripted capable LLM: model choice and answer)
under the stage that made them, and the attributes each span carries."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from hugginggpt import HuggingGPT, HuggingGPTConfig
from llm_doubles import ScriptedLLM

STAGES = ["plan", "select", "execute", "respond"]


def _png(path: Path) -> Path:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), "white")
    ImageDraw.Draw(img).ellipse([40, 30, 280, 210], fill="red")
    img.save(path)
    return path


def _tree(spans: Any) -> tuple[dict[str, list[Any]], dict[int, Any]]:
    finished = spans.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for s in finished:
        by_name.setdefault(s.name, []).append(s)
    return by_name, {s.context.span_id: s for s in finished}


def _parent(span: Any, by_id: dict[int, Any]) -> str | None:
    return by_id[span.parent.span_id].name if span.parent else None


@pytest.mark.slow
def test_span_tree_of_a_real_run(tmp_path: Path, spans) -> None:
    image = _png(tmp_path / "photo.png")
    llm = ScriptedLLM('{"id": "hugginggpt/composite-captioner", "reason": "the only one"}',
                      "The picture shows a red circle on white.", capable=True)
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path / "ws", allowed_dirs=[tmp_path], planner="offline",
                                        cache={"enabled": False}), base_dir=tmp_path, llm=llm)
    run = agent.run("Describe this image.", files=[image])
    assert run.status == "succeeded", [(r.task.task, r.error) for r in run.results]
    (result,) = run.results
    by_name, by_id = _tree(spans)

    (root,) = by_name["hugginggpt.run"]
    assert root.parent is None and root.attributes["hugginggpt.run_id"] == run.run_id
    assert root.attributes["hugginggpt.run.status"] == "succeeded"
    assert all(s.context.trace_id == root.context.trace_id for s in by_id.values())
    stages = [s for s in by_id.values() if s.name.startswith("hugginggpt.stage.")]
    assert sorted(s.name.rsplit(".", 1)[1] for s in stages) == sorted(STAGES)
    assert all(_parent(s, by_id) == "hugginggpt.run" for s in stages)
    assert [s.name for s in sorted(stages, key=lambda s: s.start_time)] == [f"hugginggpt.stage.{n}" for n in STAGES]

    (task,) = by_name["hugginggpt.task"]
    assert _parent(task, by_id) == "hugginggpt.stage.execute"
    assert task.attributes["hugginggpt.task.id"] == result.task.id
    assert task.attributes["hugginggpt.task.name"] == "image-to-text"
    assert task.attributes["hugginggpt.task.status"] == "ok"
    assert list(task.attributes["hugginggpt.output.sha256"]) == [a.sha256 for a in result.outputs]
    assert list(task.attributes["hugginggpt.output.sizes"]) == [a.size for a in result.outputs]
    assert list(task.attributes["hugginggpt.output.kinds"]) == ["text"]
    (expert,) = by_name["hugginggpt.expert"]
    assert _parent(expert, by_id) == "hugginggpt.task"
    assert expert.attributes["hugginggpt.model_id"] == result.choice.model_id
    assert expert.attributes["hugginggpt.backend"] == result.choice.backend == "embedded"
    assert expert.attributes.get("cache.hit") in (False, None)  # the cache is off here
    # the input image by its hash and size: the same bytes as the user's file, stored under that hash
    assert list(expert.attributes["hugginggpt.input.slots"]) == ["image"]
    assert list(expert.attributes["hugginggpt.input.sha256"]) == [hashlib.sha256(image.read_bytes()).hexdigest()]
    assert list(expert.attributes["hugginggpt.input.sizes"]) == [image.stat().st_size]

    llm_spans = {s.attributes["hugginggpt.stage"]: s for s in by_name["hugginggpt.llm"]}
    assert set(llm_spans) == {c["stage"] for c in llm.calls}
    for stage, span in llm_spans.items():
        assert _parent(span, by_id) == f"hugginggpt.stage.{stage}"
        assert span.attributes["llm.token_count.total"] == 120
    assert sum(s.attributes["llm.token_count.prompt"] for s in llm_spans.values()) == run.usage["prompt_tokens"]
