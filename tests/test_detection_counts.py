"""The answer reports the count of the label a detection was given, and only when its detector can see it."""

from __future__ import annotations

from typing import Any

from hugginggpt.plan_schema import TaskSpec
from hugginggpt.respond import detection_counts, deterministic_answer
from hugginggpt.results import RunResult, TaskResult

_KNOWN = ["face", "person", "cat face"]


def _box(label: str) -> dict[str, Any]:
    return {"label": label, "score": 0.9, "box": {"xmin": 0, "ymin": 0, "xmax": 5, "ymax": 5}}


def _run(request: str, args: dict[str, str], data: dict[str, Any], status: str = "ok") -> RunResult:
    task = TaskSpec(task="object-detection", id=0, args=args)
    return RunResult(run_id="r", request=request, plan=[task],
                     results=[TaskResult(task=task, status=status, data=data)])  # type: ignore[arg-type]


def test_a_known_label_is_counted() -> None:
    run = _run("how many people are in x.jpg", {"image": "x.jpg", "text": "person"},
               {"objects": [_box("person"), _box("person")], "classes_supported": _KNOWN, "label": "person"})
    assert detection_counts(run) == ["Count: 2 people in x.jpg."]
    assert "Count: 2 people in x.jpg." in deterministic_answer(run)


def test_a_synonym_counts_the_detectors_label() -> None:
    run = _run("count the cats in c.jpg", {"image": "c.jpg", "text": "cat"},
               {"objects": [_box("cat face")], "classes_supported": _KNOWN, "label": "cat face"})
    assert detection_counts(run) == ["Count: 1 cat face in c.jpg."]


def test_a_hub_detector_counts_the_label_among_its_objects() -> None:
    objects = [_box("zebra"), _box("zebra"), _box("zebra"), _box("giraffe")]
    run = _run("count the zebras in <GENERATED>-1", {"image": "<GENERATED>-1", "text": "zebra"}, {"objects": objects})
    assert detection_counts(run) == ["Count: 3 zebras in the image of task 1."]
    none = _run("count the buses", {"image": "b.jpg", "text": "bus"}, {"objects": [_box("car")]})
    assert detection_counts(none) == ["Count: 0 buses in b.jpg."]


def test_a_label_the_detector_cannot_see_gets_no_count_but_the_note() -> None:
    run = _run("count the zebras in c.jpg", {"image": "c.jpg", "text": "zebra"},
               {"objects": [_box("face")], "classes_supported": _KNOWN, "label": None})
    assert detection_counts(run) == []
    answer = deterministic_answer(run)
    assert "Count:" not in answer and "only detects face, person, cat face" in answer


def test_no_label_or_a_failed_task_gets_no_count() -> None:
    plain = _run("detect objects in a.jpg", {"image": "a.jpg"}, {"objects": [_box("person")],
                                                                 "classes_supported": _KNOWN})
    failed = _run("how many people in a.jpg", {"image": "a.jpg", "text": "person"}, {}, status="failed")
    assert detection_counts(plain) == [] and detection_counts(failed) == []
