"""hf-inference: request construction and response decoding per task, against the RECORDED response shapes of the
hosted API served on loopback (see hf_recorded.py: the real service is not reachable here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hugginggpt.backends.hf_inference import HFInferenceBackend
from hugginggpt.catalog.cards import ModelCard
from hugginggpt.experts.hub.errors import HubAuthError, HubModelLoading, HubModelNotFound, HubRateLimited, RemoteTimeout

from .hf_recorded import RECORDED, RecordingServer


@pytest.fixture()
def hosted(monkeypatch: pytest.MonkeyPatch):
    # The Makefile runs tests with HF_HUB_OFFLINE=1, which makes huggingface_hub refuse every URL, loopback included.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with RecordingServer() as server:
        yield server, HFInferenceBackend(token="hf_test", base_url=server.url, timeout=1.5)


def _run(backend: HFInferenceBackend, model: str, inputs: dict):
    task = RECORDED[model][0] if model in RECORDED else "text-classification"
    card = ModelCard(id=model, task=task)
    return backend.expert(card).run(inputs)


def test_text_tasks_send_json_and_decode(hosted) -> None:
    server, backend = hosted
    out = _run(backend, "distilbert-base-uncased-finetuned-sst-2-english", {"text": "I love it"})
    req = server.last("distilbert-base-uncased-finetuned-sst-2-english")
    assert json.loads(req["body"])["inputs"] == "I love it"
    assert req["authorization"] == "Bearer hf_test"
    assert out.outputs[0].text == "POSITIVE (1.00)" and out.data["label"] == "POSITIVE"

    out = _run(backend, "dslim/bert-base-NER", {"text": "My name is Sarah and I live in London"})
    assert out.outputs[0].text == "Sarah: PER; London: LOC"
    assert [e["label"] for e in out.data["entities"]] == ["PER", "LOC"]

    out = _run(backend, "facebook/bart-large-cnn", {"text": "A long article about a park."})
    assert out.outputs[0].text == "The council approved the new park."

    out = _run(backend, "deepset/roberta-base-squad2", {"text": "Where?", "context": "Paris is nice."})
    body = json.loads(server.last("deepset/roberta-base-squad2")["body"])
    assert body["inputs"] == {"question": "Where?", "context": "Paris is nice."}
    assert out.outputs[0].text == "Paris" and out.data["score"] == pytest.approx(0.91)


def test_media_tasks_send_bytes_and_decode(hosted, media: dict[str, Path]) -> None:
    server, backend = hosted
    out = _run(backend, "google/vit-base-patch16-224", {"image": media["image"]})
    sent = server.last("google/vit-base-patch16-224")["body"]
    assert sent == media["image"].read_bytes() or media["image"].read_bytes()[:64] in sent
    assert out.data["label"] == "tabby, tabby cat"

    out = _run(backend, "facebook/detr-resnet-50", {"image": media["image"]})
    assert [o.kind for o in out.outputs] == ["text", "image"]
    assert out.outputs[0].text == "cat (0.99), remote (0.95)"
    assert out.outputs[1].data[:8] == b"\x89PNG\r\n\x1a\n" and out.data["objects"][0]["box"]["xmax"] == 60

    out = _run(backend, "nvidia/segformer-b0-finetuned-ade-512-512", {"image": media["image"]})
    assert [o.kind for o in out.outputs] == ["image", "text"]
    assert out.data["segments"][0]["label"] == "wall" and 0 < out.data["segments"][0]["area"] < 1

    out = _run(backend, "openai/whisper-large-v3", {"audio": media["audio"]})
    assert out.outputs[0].text == "The quick brown fox jumps over the lazy dog."

    out = _run(backend, "Salesforce/blip-image-captioning-large", {"image": media["image"]})
    assert out.outputs[0].text == "a cat sitting on a couch"

    out = _run(backend, "espnet/kan-bayashi_ljspeech_vits", {"text": "hello"})
    assert out.outputs[0].kind == "audio" and out.outputs[0].ext == ".wav" and out.outputs[0].data[:4] == b"RIFF"

    out = _run(backend, "stabilityai/stable-diffusion-2-1", {"text": "a red square"})
    assert out.outputs[0].kind == "image" and out.outputs[0].data[:4] == b"\x89PNG"


@pytest.mark.parametrize(("model", "error"), [("err/unauthorized", HubAuthError), ("err/missing", HubModelNotFound),
                                              ("err/busy", HubRateLimited), ("err/cold", HubModelLoading),
                                              ("slow/model", RemoteTimeout)])
def test_http_failures_become_named_errors(hosted, model: str, error: type) -> None:
    _, backend = hosted
    with pytest.raises(error) as info:
        _run(backend, model, {"text": "x"})
    assert info.value.hint


def test_availability_is_checked_once_per_ttl(hosted) -> None:
    server, backend = hosted
    card = ModelCard(id="google/vit-base-patch16-224", task="image-classification")
    assert backend.can_serve(card)[0]
    assert backend.can_serve(card)[0]
    assert sum(1 for r in server.requests if r["method"] == "GET") == 1
    assert not backend.can_serve(ModelCard(id="not/deployed", task="image-classification"))[0]
    assert not backend.can_serve(ModelCard(id="x", task="depth-estimation"))[0]  # no InferenceClient call


def test_offline_mode_makes_the_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    ok, why = HFInferenceBackend(token="t").status()
    assert not ok and "HF_HUB_OFFLINE" in why


@pytest.mark.slow
def test_plan_in_huggingface_mode(hosted, media, make_agent) -> None:
    server, _ = hosted
    plan = [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "photo.png"}},
            {"task": "text-classification", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]
    agent = make_agent(plan, inference_mode="huggingface", hf_inference_url=server.url, hf_token="hf_test",
                       overrides={"image-to-text": "Salesforce/blip-image-captioning-large",
                                  "text-classification": "distilbert-base-uncased-finetuned-sst-2-english"})
    assert [b.name for b in agent.backends()] == ["hf-inference", "llm"]
    run = agent.run("caption photo.png and rate the caption's sentiment")
    assert [r.status for r in run.results] == ["ok", "ok"], [r.error for r in run.results]
    assert {r.choice.backend for r in run.results} == {"hf-inference"}
    assert run.results[0].text == "a cat sitting on a couch"
    assert json.loads(server.last("distilbert-base-uncased-finetuned-sst-2-english")["body"])["inputs"] == \
        "a cat sitting on a couch"


def test_only_the_top_models_of_a_task_are_probed(hosted) -> None:
    from hugginggpt.backends.hf_inference import MAX_PROBES_PER_TASK

    server, backend = hosted
    answers = [backend.can_serve(ModelCard(id=f"org/model-{i}", task="summarization"))
               for i in range(MAX_PROBES_PER_TASK + 3)]
    assert sum(1 for r in server.requests if r["method"] == "GET") == MAX_PROBES_PER_TASK
    assert all("not probed" in why for _, why in answers[MAX_PROBES_PER_TASK:])
    # another task has its own allowance
    assert backend.can_serve(ModelCard(id="facebook/bart-large-cnn", task="text-classification"))[0]
