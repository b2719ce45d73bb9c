"""Fault injection through the whole agent: an expert that raises, hangs, returns garbage, calls ``sys.exit``, is
interrupted or runs out of memory fails its own task with a named error; its dependants are skipped; an independent
branch (the real OpenCV Canny expert) finishes; the run's status says ``partial``."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from faults.fault_experts import (
    RELEASE,
    Echo,
    EchoAudio,
    EchoImage,
    ExhaustsMemory,
    Exits,
    FaultAgent,
    Hangs,
    Interrupts,
    Raises,
    ReturnsGarbageAudio,
    ReturnsGarbageImage,
    ReturnsMissingData,
    ReturnsNone,
    ReturnsStr,
    ReturnsUnknownKind,
)
from llm_doubles import ScriptedLLM

# fault -> (error code, error type, words the message must contain)
FAULTS = {
    Raises: ("expert_error", "ExpertError", "RuntimeError: weights are corrupted"),
    Hangs: ("task_timeout", "TaskTimeout", "took longer than 0.5 s"),
    Exits: ("expert_crashed", "ExpertCrashed", "SystemExit"),
    Interrupts: ("expert_crashed", "ExpertCrashed", "KeyboardInterrupt"),
    ExhaustsMemory: ("expert_crashed", "ExpertCrashed", "ran out of memory"),
    ReturnsNone: ("expert_bad_output", "ExpertOutputError", "returned None instead of an ExpertResult"),
    ReturnsStr: ("expert_bad_output", "ExpertOutputError", "returned a str instead of an ExpertResult"),
    ReturnsUnknownKind: ("expert_bad_output", "ExpertOutputError", "unknown kind 'hologram'"),
    ReturnsMissingData: ("expert_bad_output", "ExpertOutputError", "image output 0 has no data"),
    ReturnsGarbageImage: ("expert_bad_output", "ExpertOutputError", "is not an image"),
    ReturnsGarbageAudio: ("expert_bad_output", "ExpertOutputError", "is not a WAV"),
}

# what a dependant of the faulty task does with each output type, and which well-behaved expert serves it
DEPENDANT = {"text": ("summarization", "text", Echo), "image": ("image-classification", "image", EchoImage),
             "audio": ("automatic-speech-recognition", "audio", EchoAudio)}
FIRST_ARGS = {"text-classification": {"text": "a sentence to work on"}, "image-segmentation": {"image": "photo.png"},
              "text-to-speech": {"text": "hello there"}}
OUTPUT = {"text-classification": "text", "image-segmentation": "image", "text-to-speech": "audio"}


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    img = Image.new("RGB", (96, 64), (40, 120, 200))
    ImageDraw.Draw(img).ellipse((20, 10, 70, 55), fill=(230, 180, 40))
    img.save(tmp_path / "photo.png")
    return tmp_path / "photo.png"


@pytest.fixture(autouse=True)
def release_hung_threads():
    RELEASE.clear()
    yield
    RELEASE.set()  # hung worker threads end instead of lingering after the test


def faulty_plan(fault) -> tuple[list[dict], dict[str, str]]:
    dep_task, slot, dep_expert = DEPENDANT[OUTPUT[fault.task]]
    plan = [{"task": fault.task, "id": 0, "args": FIRST_ARGS[fault.task]},
            {"task": dep_task, "id": 1, "dep": [0], "args": {slot: "<GENERATED>-0"}},
            {"task": "canny-control", "id": 2, "args": {"image": "photo.png"}}]
    return plan, {fault.task: fault.model_id, dep_task: dep_expert.model_id}


@pytest.mark.parametrize("fault", list(FAULTS), ids=lambda c: c.model_id.split("/")[1])
def test_a_faulty_expert_fails_only_its_task(fault, tmp_path: Path, photo: Path) -> None:
    code, type_, words = FAULTS[fault]
    plan, overrides = faulty_plan(fault)
    agent = FaultAgent(plan, tmp_path, llm=ScriptedLLM(capable=False), overrides=overrides, task_timeout=0.5)
    t0 = time.perf_counter()
    result = agent.run("do the three things")
    seconds = time.perf_counter() - t0

    bad, dependant, independent = result.results
    assert bad.status == "failed" and bad.error is not None
    assert (bad.error.code, bad.error.type) == (code, type_), bad.error
    assert words in bad.error.message and bad.error.hint
    assert bad.outputs == []  # nothing broken was stored
    assert dependant.status == "skipped" and dependant.error.code == "dependency_failed"
    assert independent.status == "ok" and independent.output_of("image").path.is_file()
    assert result.error is None and result.status == "partial"
    assert bad.error.message[:40] in result.answer  # the answer says what failed and why
    print(f"\nFAULT {fault.model_id}: task {bad.status} {bad.error.code} in {bad.seconds:.2f} s; run "
          f"{result.status} in {seconds:.2f} s")


def test_garbage_outputs_are_never_stored(tmp_path: Path, photo: Path) -> None:
    plan, overrides = faulty_plan(ReturnsGarbageImage)
    agent = FaultAgent(plan[:1], tmp_path, llm=ScriptedLLM(capable=False), overrides=overrides)
    result = agent.run("segment it")
    assert result.status == "failed" and result.results[0].error.code == "expert_bad_output"
    garbage = hashlib.sha256(ReturnsGarbageImage(  # type: ignore[abstract]
        ).run({}).outputs[0].data).hexdigest()
    stored = [p.name for p in agent.store.root.iterdir()]
    assert stored and not [n for n in stored if n.startswith(garbage)], stored  # the input is; the garbage is not


def test_a_run_whose_only_task_fails_is_failed(tmp_path: Path) -> None:
    plan = [{"task": "text-classification", "id": 0, "args": {"text": "x"}}]
    agent = FaultAgent(plan, tmp_path, llm=ScriptedLLM(capable=False),
                       overrides={"text-classification": Exits.model_id})
    result = agent.run("classify")
    assert result.status == "failed" and result.error is None
    assert result.results[0].error.code == "expert_crashed"


def test_an_oversized_image_output_is_refused_by_the_pixel_limit(tmp_path: Path, photo: Path) -> None:
    import io

    from faults.fault_experts import _returning
    from hugginggpt.experts.base import ExpertOutput, ExpertResult

    buf = io.BytesIO()
    Image.new("L", (400, 400)).save(buf, format="PNG")  # small file, 160,000 declared pixels
    big = _returning("big-image", ExpertResult([ExpertOutput("image", data=buf.getvalue(), ext=".png")]),
                     task="image-segmentation")
    plan = [{"task": "image-segmentation", "id": 0, "args": {"image": "photo.png"}}]
    agent = FaultAgent(plan, tmp_path, classes=[big], llm=ScriptedLLM(capable=False),
                       overrides={"image-segmentation": big.model_id}, max_image_pixels=100_000)
    result = agent.run("segment")
    assert result.results[0].error.code == "media_too_large", result.results[0].error
