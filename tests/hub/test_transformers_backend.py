"""The transformers backend end to end inside plans: tiny random models saved to local directories, referenced by
user catalog entries, selected by the real selector and run by the scheduler; outputs checked as artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hugginggpt.backends.transformers import TransformersBackend
from hugginggpt.catalog.cards import ModelCard
from hugginggpt.experts.pool import ExpertPool

pytestmark = pytest.mark.slow

CASES: list[tuple[str, dict[str, str], list[str]]] = [
    ("text-classification", {"text": "the movie is good"}, ["text"]),
    ("token-classification", {"text": "john lives in new york"}, ["text"]),
    ("summarization", {"text": "the cat sat on the mat . the dog sat on the mat . it was sunny today"}, ["text"]),
    ("question-answering", {"text": "where does john live", "context": "john lives in paris"}, ["text"]),
    ("image-classification", {"image": "photo.png"}, ["text"]),
    ("object-detection", {"image": "photo.png"}, ["text", "image"]),
    ("image-segmentation", {"image": "photo.png"}, ["image", "text"]),
    ("automatic-speech-recognition", {"audio": "speech.wav"}, ["text"]),
    ("text-generation", {"text": "the cat sat on"}, ["text"]),
    ("conversational", {"text": "how is the weather today"}, ["text"]),
    ("zero-shot-classification", {"text": "the movie is good", "labels": "film, weather"}, ["text"]),
    ("feature-extraction", {"text": "the movie is good"}, ["text"]),
    ("sentence-similarity", {"text": "the movie is good", "text2": "a great film"}, ["text"]),
    ("image-to-text", {"image": "photo.png"}, ["text"]),
    ("depth-estimation", {"image": "photo.png"}, ["image"]),
    ("audio-classification", {"audio": "speech.wav"}, ["text"]),
    ("visual-question-answering", {"image": "photo.png", "text": "is the cat good"}, ["text"]),
]


@pytest.mark.parametrize(("task", "args", "kinds"), CASES, ids=[c[0] for c in CASES])
def test_task_runs_in_a_plan(task: str, args: dict[str, str], kinds: list[str], tiny, media, make_agent) -> None:
    model_dir = tiny(task)
    model_id = f"tiny/{task}"
    agent = make_agent([{"task": task, "id": 0, "dep": [-1], "args": args}],
                       cards=[{"id": model_id, "task": task, "path": str(model_dir)}])
    run = agent.run(f"please do {task}")
    assert run.error is None, run.error
    [result] = run.results
    assert result.status == "ok", result.error
    assert result.choice is not None
    assert (result.choice.model_id, result.choice.backend) == (model_id, "transformers")
    assert [a.kind for a in result.outputs] == kinds
    for art in result.outputs:
        assert art.path.is_file() and art.path.stat().st_size > 0
        if art.kind == "image":
            assert art.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if art.kind == "text":
            assert isinstance(art.text, str)
    assert result.data["backend"] == "transformers" and result.data["device"] == "cpu"
    if task == "question-answering":
        assert result.text in "john lives in paris"
    if task in ("text-classification", "image-classification"):
        assert result.data["label"] in ("NEGATIVE", "POSITIVE", "cat", "dog")
    if task in ("summarization", "text-generation", "conversational", "image-to-text"):
        assert result.text.strip()  # min_new_tokens makes even random weights say something
    if task == "zero-shot-classification":
        assert result.data["label"] in ("film", "weather")
    if task == "feature-extraction":
        import json

        assert len(json.loads(result.text)) == result.data["dim"] == 32
    if task == "sentence-similarity":
        assert -1.0 <= result.data["score"] <= 1.0
    if task == "visual-question-answering":
        assert result.text in ("yes", "no")


def test_chained_plan_feeds_a_transcript_to_a_classifier(tiny, media, make_agent) -> None:
    asr = str(tiny("automatic-speech-recognition"))
    cards = [{"id": "tiny/asr", "task": "automatic-speech-recognition", "path": asr},
             {"id": "tiny/sentiment", "task": "text-classification", "path": str(tiny("text-classification"))}]
    plan = [{"task": "automatic-speech-recognition", "id": 0, "dep": [-1], "args": {"audio": "speech.wav"}},
            {"task": "text-classification", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]
    agent = make_agent(plan, cards=cards, overrides={"text-classification": "tiny/sentiment"})
    run = agent.run("transcribe speech.wav and tell me its sentiment")
    assert [r.status for r in run.results] == ["ok", "ok"], [r.error for r in run.results]
    assert run.results[1].inputs["text"] == run.results[0].text[:200]
    assert {r.choice.backend for r in run.results} == {"transformers"}
    assert run.answer


def test_can_serve_only_when_weights_are_local(tmp_path: Path, tiny) -> None:
    backend = TransformersBackend(ExpertPool(), device="cpu", cache_dir=tmp_path / "empty-cache")
    ok, why = backend.can_serve(ModelCard(id="distilbert-base-uncased-finetuned-sst-2-english",
                                          task="text-classification"))
    assert not ok and "not in the local Hugging Face cache" in why
    assert backend.can_serve(ModelCard(id="x", task="text-classification", path=str(tmp_path)))[0] is False
    ok, why = backend.can_serve(ModelCard(id="x", task="text-classification", path=str(tiny("text-classification")),
                                          source="user"))
    assert ok, why
    assert not backend.can_serve(ModelCard(id="y", task="tabular-classification", path=str(tmp_path)))[0]
    ok, why = backend.can_serve(ModelCard(id="z", task="text-to-image", path=str(tmp_path)))
    assert not ok and ("diffusers" in why or "model_index" in why)


def test_model_in_the_hf_cache_is_found(tmp_path: Path, tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model laid out as huggingface_hub caches it (blobs/refs/snapshots) is served without any path."""
    import shutil

    repo = tmp_path / "hub" / "models--tiny--cached-sentiment"
    snap = repo / "snapshots" / ("0" * 40)
    shutil.copytree(tiny("text-classification"), snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    backend = TransformersBackend(ExpertPool(), device="cpu", cache_dir=tmp_path / "hub")
    card = ModelCard(id="tiny/cached-sentiment", task="text-classification")
    ok, why = backend.can_serve(card)
    assert ok and "cache" in why
    out = backend.expert(card).run({"text": "a great film"})
    assert out.outputs[0].kind == "text" and out.data["label"] in ("NEGATIVE", "POSITIVE")


def test_broken_model_dir_fails_the_task_with_a_named_error(tmp_path: Path, media, make_agent) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert"}')
    (broken / "model.safetensors").write_bytes(b"not weights")
    agent = make_agent([{"task": "text-classification", "id": 0, "dep": [-1], "args": {"text": "hello"}}],
                       cards=[{"id": "tiny/broken", "task": "text-classification", "path": str(broken)}])
    run = agent.run("classify hello")
    [result] = run.results
    assert result.status == "failed"
    assert result.error is not None and result.error.type == "ExpertUnavailable"
    assert "tiny/broken" in result.error.message
    assert run.answer
