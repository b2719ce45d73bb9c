"""Plan validation and repair: the JARVIS data model's rules."""

from __future__ import annotations

import pytest

from hugginggpt.planning import Plan, repair_plan, validate_plan
from hugginggpt.tasks import default_registry

REG = default_registry()


def codes(raw) -> list[str]:
    plan, _ = repair_plan(raw, REG)
    return [i.code for i in validate_plan(plan, REG)]


def test_registry_covers_jarvis_tasks():
    jarvis = """token-classification text2text-generation summarization translation question-answering conversational
    text-generation sentence-similarity tabular-classification object-detection image-classification image-to-image
    image-to-text text-to-image text-to-video visual-question-answering document-question-answering
    image-segmentation depth-estimation text-to-speech automatic-speech-recognition audio-to-audio
    audio-classification canny-control hed-control mlsd-control normal-control openpose-control canny-text-to-image
    depth-text-to-image hed-text-to-image mlsd-text-to-image normal-text-to-image openpose-text-to-image
    seg-text-to-image""".split()
    assert len(jarvis) == 35
    assert all(t in REG for t in jarvis)
    assert REG.canonical("Image Editing") == "image-to-image"
    assert REG.canonical("Automatic Speech Recognition") == "automatic-speech-recognition"


def test_valid_chain_passes():
    raw = [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}},
           {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]
    assert codes(raw) == []


def test_cycle_is_reported():
    raw = [{"task": "summarization", "id": 0, "args": {"text": "<GENERATED>-1"}},
           {"task": "translation", "id": 1, "args": {"text": "<GENERATED>-0"}}]
    assert "cycle" in codes(raw)


def test_reference_to_missing_task():
    raw = [{"task": "text-to-speech", "id": 0, "args": {"text": "<GENERATED>-7"}}]
    assert codes(raw) == ["bad_ref"]


def test_self_reference():
    raw = [{"task": "summarization", "id": 0, "args": {"text": "<GENERATED>-0"}}]
    assert "self_ref" in codes(raw)


def test_unknown_task_with_suggestion():
    plan, _ = repair_plan([{"task": "image-captioning-xl", "id": 0, "args": {"image": "a.png"}}], REG)
    issues = validate_plan(plan, REG)
    assert [i.code for i in issues] == ["unknown_task"]


def test_wrong_slot_type_literal_and_reference():
    # text where an image is needed
    assert "wrong_slot_type" in codes([{"task": "image-classification", "id": 0, "args": {"image": "a cat"}}])
    # an audio file where an image is needed
    assert "wrong_slot_type" in codes([{"task": "image-classification", "id": 0, "args": {"image": "a.wav"}}])
    # text output feeding an image slot
    raw = [{"task": "summarization", "id": 0, "args": {"text": "long text"}},
           {"task": "image-classification", "id": 1, "args": {"image": "<GENERATED>-0"}}]
    assert "type_mismatch" in codes(raw)


def test_missing_required_slot():
    assert "missing_slot" in codes([{"task": "question-answering", "id": 0, "args": {"text": "who?"}}])


def test_repair_recomputes_dep_and_maps_names_and_slots():
    raw = {"tasks": [
        {"task": "Image-to-Text", "id": "0", "dep": [3], "args": {"img": "photo.jpg"}},
        {"task": "Text-to-Speech", "id": 1, "dep": [-1], "args": ["<GENERATED>-0"]},
    ]}
    plan, notes = repair_plan(raw, REG)
    assert plan.to_jarvis() == [
        {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "photo.jpg"}},
        {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
    ]
    assert validate_plan(plan, REG) == []
    assert any("dep" in n for n in notes)


def test_unfold_multi_resource_argument():
    raw = [{"task": "text-to-image", "id": 0, "args": {"text": "a cat"}},
           {"task": "text-to-image", "id": 1, "args": {"text": "a dog"}},
           {"task": "image-classification", "id": 2, "args": {"image": "<GENERATED>-0,<GENERATED>-1"}}]
    plan, notes = repair_plan(raw, REG)
    cls = [t for t in plan.tasks if t.task == "image-classification"]
    assert [t.args["image"] for t in cls] == ["<GENERATED>-0", "<GENERATED>-1"]
    assert [t.dep for t in cls] == [[0], [1]]
    assert len({t.id for t in plan.tasks}) == 4
    assert validate_plan(plan, REG) == []
    assert any("unfold" in n for n in notes)


def test_garbage_items_are_dropped_with_a_note():
    plan, notes = repair_plan([42, "x", {"no": "task"}], REG)
    assert plan.tasks == []
    assert len(notes) == 3


def test_taskbench_codec_uses_node_indices():
    plan, _ = repair_plan([{"task": "automatic-speech-recognition", "id": 3, "args": {"audio": "a.wav"}},
                           {"task": "summarization", "id": 5, "args": {"text": "<GENERATED>-3"}}], REG)
    tb = plan.to_taskbench()
    assert tb["task_nodes"] == [{"task": "automatic-speech-recognition", "arguments": ["a.wav"]},
                                {"task": "summarization", "arguments": ["<node-0>"]}]
    assert tb["task_links"] == [{"source": "automatic-speech-recognition", "target": "summarization"}]


@pytest.mark.parametrize("value", ["<GENERATED>-0 and more", "see <GENERATED>-0"])
def test_reference_mixed_with_text_is_rejected(value):
    raw = [{"task": "summarization", "id": 0, "args": {"text": "abc"}},
           {"task": "translation", "id": 1, "args": {"text": value}}]
    plan, _ = repair_plan(raw, REG)
    assert "bad_ref" in [i.code for i in validate_plan(plan, REG)]


def test_plan_roundtrip_jarvis():
    data = [{"task": "summarization", "id": 0, "dep": [-1], "args": {"text": "abc"}}]
    assert Plan.from_jarvis(data).to_jarvis() == data
