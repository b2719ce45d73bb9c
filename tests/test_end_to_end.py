"""The four stages end to end with the real offline planner and embedded experts, on inputs made by the test."""

from __future__ import annotations

import asyncio
import sys
import wave
from pathlib import Path

import pytest

from hugginggpt import HuggingGPT, HuggingGPTConfig
from llm_doubles import ScriptedLLM

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    from make_examples import main as make_examples

    out = tmp_path_factory.mktemp("inputs")
    make_examples(out)
    return out


@pytest.fixture(scope="module")
def agent(inputs, tmp_path_factory) -> HuggingGPT:
    ws = tmp_path_factory.mktemp("ws")
    return HuggingGPT(HuggingGPTConfig(workspace=ws, allowed_dirs=[inputs]), base_dir=inputs)


def _ok(result):
    assert result.error is None, result.error
    assert all(r.status == "ok" for r in result.results), [(r.task.task, r.error) for r in result.results]


@pytest.mark.slow
def test_describe_and_read_aloud(agent):
    result = agent.run("Describe poster.png and read the description aloud.")
    _ok(result)
    assert [t.task for t in result.plan] == ["image-to-text", "text-to-speech"]
    assert result.plan[1].args == {"text": "<GENERATED>-0"}
    caption = result.results[0].text
    assert "SPACE MUSEUM" in caption and "face" in caption
    wav = result.results[1].output_of("audio")
    assert wav.path.exists() and wav.path.suffix == ".wav" and wav.path.parent == agent.store.root
    with wave.open(str(wav.path)) as w:
        assert w.getnframes() / w.getframerate() > 1.0
    # the answer cites the real file and quotes the real caption
    assert str(wav.path) in result.answer and caption[:40] in result.answer
    assert result.timings["total"] > 0 and result.usage["calls"] == 0


@pytest.mark.slow
def test_transcribe_and_summarize(agent):
    result = agent.run("Transcribe speech.wav and summarize it.")
    _ok(result)
    assert [t.task for t in result.plan] == ["automatic-speech-recognition", "summarization"]
    transcript = result.results[0].text.lower()
    for word in ("council", "park", "playground", "spring"):
        assert word in transcript
    summary = result.results[1].text
    assert 0 < len(summary) < len(result.results[0].text)


@pytest.mark.slow
def test_two_independent_branches_and_a_task_without_offline_model(agent):
    result = agent.run("What kind of animal is in cat.jpg? Also find the faces in poster.png, "
                       "and translate 'good morning' into French.")
    tasks = {r.task.task: r for r in result.results}
    assert {"image-classification", "object-detection", "translation"} <= set(tasks)
    assert all(t.dep == [-1] for t in result.plan)
    assert "cat" in tasks["image-classification"].text.lower()
    assert tasks["object-detection"].data["objects"][0]["label"] == "face"
    assert tasks["object-detection"].output_of("image").path.exists()
    # no fake translation: a named error saying how it could be served, and the other branches are intact
    tr = tasks["translation"]
    assert tr.status == "failed" and tr.error.type == "ModelSelectionError"
    assert "hf-inference" in tr.error.hint
    assert "did not complete" in result.answer


@pytest.mark.slow
def test_astream_yields_stage_and_task_events_in_order(agent):
    async def collect():
        return [e async for e in agent.astream("Is this review positive or negative: 'A wonderful, friendly "
                                               "museum tour.'")]

    events = asyncio.run(collect())
    stages = [(e.stage, e.status) for e in events if e.kind == "stage"]
    assert stages[0] == ("plan", "running") and ("respond", "done") in stages
    task_events = [e for e in events if e.kind == "task"]
    assert [e.status for e in task_events] == ["running", "ok"]
    assert events[-1].kind == "answer" and "positive" in events[-1].message


@pytest.mark.slow
def test_chat_remembers_earlier_outputs(agent):
    first = agent.run("Read this aloud: 'The exhibition opens at nine.'")
    _ok(first)
    history = [{"role": "user", "content": "Read this aloud: 'The exhibition opens at nine.'"},
               {"role": "assistant", "content": first.answer},
               {"role": "user", "content": "Now transcribe that audio."}]
    second = agent.chat(history)
    _ok(second)
    assert second.plan[0].task == "automatic-speech-recognition"
    assert "exhibition" in second.results[0].text.lower()


GARBAGE = "}}} not json at all [["


@pytest.mark.parametrize(("request_text", "files", "error"), [
    ("", [], "RequestError"),
    ("   ", [], "RequestError"),
    ("Describe missing.png", [], "ResourceError"),
    ("Describe ../../etc/passwd.png", [], "ResourceAccessDenied"),
    ("Classify this image", ["notes.txt"], "ResourceError"),
    ("Classify this image", ["nope.png"], "ResourceError"),
])
def test_bad_inputs_give_named_errors(agent, inputs, request_text, files, error):
    (inputs / "notes.txt").write_text("not an image")
    result = agent.run(request_text, files=[inputs / f for f in files])
    failures = [result.error] if result.error else [r.error for r in result.results if r.error]
    assert failures, result
    assert failures[0].type == error, failures
    assert failures[0].message and result.answer


def test_llm_returning_garbage_is_a_plan_error(inputs, tmp_path):
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path, allowed_dirs=[inputs], planner="llm"),
                       llm=ScriptedLLM(GARBAGE, GARBAGE), base_dir=inputs)
    result = agent.run("Describe poster.png")
    assert result.error is not None and result.error.code == "plan_error"
    assert result.usage["calls"] == 2  # the first answer and one re-ask
    assert result.usage["by_stage"]["plan"]["calls"] == 2


def test_small_llm_is_never_silently_used_for_planning(inputs, tmp_path):
    small = ScriptedLLM(capable=False)  # like the packaged 135M model
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path, planner="llm"), llm=small, base_dir=inputs)
    result = agent.run("Describe poster.png")
    assert result.error is not None and result.error.type == "ConfigError"
    auto = HuggingGPT(HuggingGPTConfig(workspace=tmp_path), llm=small, base_dir=inputs)
    assert auto.planner().name == "offline"


@pytest.mark.slow
def test_chat_reads_the_previous_text_output_aloud(agent):
    first = agent.run("Describe poster.png")
    _ok(first)
    caption = first.results[0].text
    second = agent.chat([{"role": "user", "content": "Describe poster.png"},
                         {"role": "assistant", "content": first.answer},
                         {"role": "user", "content": "now read it aloud"}])
    _ok(second)
    assert [(t.task, t.args) for t in second.plan] == [("text-to-speech", {"text": caption})]
    assert second.results[0].output_of("audio").path.exists()
    assert "previous answer" in " ".join(second.plan_notes)


@pytest.mark.slow
def test_summary_polished_by_the_embedded_llm_when_chosen(inputs, tmp_path):
    config = HuggingGPTConfig(workspace=tmp_path, allowed_dirs=[inputs],
                              overrides={"summarization": "hugginggpt/extractive-summary-llm-polish"})
    agent = HuggingGPT(config, base_dir=inputs)
    text = ("The city council met on Tuesday to discuss the new park. The plan adds a playground and a small lake. "
            "Construction will start next spring. Local businesses welcomed the decision.")
    result = agent.run(f"Summarize this: '{text}'")
    _ok(result)
    r = result.results[0]
    assert r.choice.model_id == "hugginggpt/extractive-summary-llm-polish" and r.choice.backend == "llm"
    assert r.data["extractive"] and r.data["extractive"] in text  # the extraction is a real span of the input
    assert r.text.strip()
    assert result.usage["by_stage"]["execute"]["calls"] == 1  # one rewrite call, counted in the run's usage
    # without the override the extractive summarizer stays the default
    plain = HuggingGPT(HuggingGPTConfig(workspace=tmp_path, allowed_dirs=[inputs]), base_dir=inputs)
    chosen = plain.run(f"Summarize this: '{text}'").results[0].choice
    assert chosen.model_id == "hugginggpt/minilm-extractive-summarizer"
