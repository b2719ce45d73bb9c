"""choose_models (one constrained call, fallbacks) and the answer prompt. The LLM is a scripted test double;
choose_models against a real model is tested in test_openai_compat.py."""

from __future__ import annotations

import json

from hugginggpt.catalog.choose import ONLY_CANDIDATE, choice_schema, choose_models
from hugginggpt.errors import LLMUnavailable
from hugginggpt.plan_schema import Plan, TaskSpec
from hugginggpt.respond_prompt import build_response_messages, files_in
from llm_doubles import ScriptedLLM

T0 = TaskSpec(task="image-classification", id=0, args={"image": "cat.jpg"})
T1 = TaskSpec(task="text-to-speech", id=1, dep=[0], args={"text": "<GENERATED>-0"})
T2 = TaskSpec(task="summarization", id=2, args={"text": "long text"})
CHOICES = [
    (T0, [{"id": "a/vit", "downloads": 10, "likes": 1, "tags": ["vision"]}, {"id": "b/resnet", "downloads": 99}]),
    (T1, [{"id": "embedded/tts"}]),
    (T2, [{"id": "c/bart", "description": "news summaries"}, {"id": "d/t5"}]),
]


def test_one_call_for_all_real_choices_with_enums() -> None:
    llm = ScriptedLLM(json.dumps({"task_0": {"id": "b/resnet", "reason": "more downloads"},
                                  "task_2": {"id": "d/t5", "reason": "fits"}}))
    picks = choose_models(llm, CHOICES, request="classify cat.jpg")
    assert picks == {0: ("b/resnet", "more downloads"), 1: ("embedded/tts", ONLY_CANDIDATE), 2: ("d/t5", "fits")}
    assert len(llm.calls) == 1 and llm.calls[0]["stage"] == "select"
    props = llm.calls[0]["json_schema"]["properties"]
    assert set(props) == {"task_0", "task_2"}  # the single-candidate task is not asked
    assert props["task_0"]["properties"]["id"]["enum"] == ["a/vit", "b/resnet"]
    prompt = llm.calls[0]["messages"][-1]["content"]
    assert "a/vit (likes=1, tags=vision)" in prompt and "news summaries" in prompt


def test_candidate_lines_leave_out_what_says_nothing() -> None:
    """No likes, and a tag that repeats the task's name (the heading of its candidates), are not shown; a long
    description is cut at a word boundary."""
    long = "EfficientNet-Lite0 trained on ImageNet-1k: names the main object of a photo among a thousand classes"
    choices = [(T0, [{"id": "local/eff", "likes": 0, "tags": ["embedded", "offline"], "description": long},
                     {"id": "a/vit", "likes": 169, "tags": ["image-classification", "vision"]}])]
    llm = ScriptedLLM(json.dumps({"task_0": {"id": "a/vit", "reason": "popular"}}))
    choose_models(llm, choices, request="classify cat.jpg")
    prompt = llm.calls[0]["messages"][-1]["content"]
    line = ("- local/eff (tags=embedded,offline): "
            "EfficientNet-Lite0 trained on ImageNet-1k: names the main object of a photo…")
    assert line in prompt
    assert "- a/vit (likes=169, tags=vision)" in prompt and "likes=0" not in prompt


def test_no_call_when_nothing_to_choose() -> None:
    llm = ScriptedLLM()
    assert choose_models(llm, [(T1, [{"id": "embedded/tts"}]), (T2, [])]) == {1: ("embedded/tts", ONLY_CANDIDATE)}
    assert llm.calls == []


def test_unusable_answers_fall_back_to_top_rank() -> None:
    llm = ScriptedLLM(json.dumps({"task_0": {"id": "made/up", "reason": "x"}}))
    picks = choose_models(llm, CHOICES)
    assert picks[0][0] == "a/vit" and "not a candidate" in picks[0][1]
    assert picks[2][0] == "c/bart" and "no choice" in picks[2][1]
    picks = choose_models(ScriptedLLM("not json"), CHOICES)
    assert picks[0][0] == "a/vit" and "not valid JSON" in picks[0][1]
    picks = choose_models(ScriptedLLM(LLMUnavailable("server down")), CHOICES)
    assert picks[2][0] == "c/bart" and "LLMUnavailable" in picks[2][1]


def test_choice_schema_requires_every_task() -> None:
    schema = choice_schema([("task_3", ["x", "y"])])
    assert schema["required"] == ["task_3"] and schema["additionalProperties"] is False


def test_response_messages_cite_only_given_paths() -> None:
    plan = Plan(tasks=[T0])
    results = [{"task": 0, "model": "b/resnet", "status": "ok",
                "outputs": {"text": "tabby cat", "image": "/ws/ab12.png"}},
               {"task": 1, "status": "failed", "error": "no model"}]
    messages = build_response_messages("what is in cat.jpg?", plan, results)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "from the results below only" in messages[0]["content"]
    user = messages[1]["content"]
    assert "Request: what is in cat.jpg?" in user and "tabby cat" in user
    assert "Cite only these files, exactly as written: /ws/ab12.png" in user
    assert files_in(results) == ["/ws/ab12.png"]


def test_results_are_lines_of_words_not_json() -> None:
    """A result row of the digest is one line: task, model, status, then each output, fact and error by name."""
    results = [{"id": 0, "task": "image-to-text", "status": "ok", "model": "a/blip",
                "outputs": [{"type": "text", "text": 'a "red" car'}]},
               {"id": 1, "task": "text-to-speech", "status": "ok", "model": "embedded/tts",
                "outputs": [{"type": "audio", "file": "public/audios/x.wav"}]},
               {"id": 2, "task": "object-detection", "status": "ok", "outputs": [], "facts": {"counts": {"car": 1}}},
               {"id": 3, "task": "text-to-video", "status": "failed", "error": "no backend serves it"}]
    user = build_response_messages("describe car.jpg", None, results)[-1]["content"]
    assert 'task 0 image-to-text (a/blip): ok; text: "a \\"red\\" car"' in user
    assert "task 1 text-to-speech (embedded/tts): ok; audio: public/audios/x.wav" in user
    assert 'task 2 object-detection: ok; facts: {"counts":{"car":1}}' in user
    assert "task 3 text-to-video: failed; error: no backend serves it" in user
    assert "{" not in user.split("Results:")[1].split("task 2")[0]  # no JSON for the plain rows
    assert "Cite only these files, exactly as written: public/audios/x.wav" in user
    assert "task 3 (text-to-video) failed" in user  # and the failure is called out


def test_response_messages_without_files_and_with_history() -> None:
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    messages = build_response_messages("and now?", None, "task 0 said: 42", files=[], history=history)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "do not mention any file paths" in messages[-1]["content"] and "task 0 said: 42" in messages[-1]["content"]
