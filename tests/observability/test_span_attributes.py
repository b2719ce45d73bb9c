"""The task and expert span attributes: inputs and outputs by content hash, kind and size (never content), a
task's outcome with its error code."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hugginggpt.artifacts import ArtifactStore
from hugginggpt.execution.calls import MediaInput
from hugginggpt.observability import tracing
from hugginggpt.observability.spans import input_attributes, output_attributes, record_task
from hugginggpt.plan_schema import TaskSpec
from hugginggpt.results import ErrorInfo, ModelChoice, TaskResult


def test_inputs_by_hash_kind_and_size(tmp_path: Path) -> None:
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 92)
    digest = hashlib.sha256(png.read_bytes()).hexdigest()
    attrs = input_attributes({"text": "héllo", "image": MediaInput(kind="image", path=png, sha256=digest),
                              "audio": MediaInput(kind="audio", path=tmp_path / "gone.wav", data=b"RIFF1234")})
    assert attrs["hugginggpt.input.slots"] == ["text", "image", "audio"]
    assert attrs["hugginggpt.input.kinds"] == ["text", "image", "audio"]
    assert attrs["hugginggpt.input.sha256"] == [hashlib.sha256("héllo".encode()).hexdigest(), digest, ""]
    assert attrs["hugginggpt.input.sizes"] == [6, 100, 8]
    assert "héllo" not in str(attrs)


def test_task_outcome_on_its_span(tmp_path: Path, spans) -> None:
    store = ArtifactStore(tmp_path)
    caption = store.put_text("a red circle")
    wav = store.put_bytes(b"RIFF" + b"\0" * 60, "audio", ext=".wav")
    spec = TaskSpec(task="image-to-text", id=3)
    choice = ModelChoice(task_id=3, task="image-to-text", model_id="m/cap", backend="embedded", reason="r")
    ok = TaskResult(task=spec, status="ok", choice=choice, outputs=[caption, wav])
    failed = TaskResult(task=spec, status="failed", error=ErrorInfo(type="TaskTimeout", code="task_timeout",
                                                                  message="took too long"))
    tracer = tracing.get_tracer()
    for result in (ok, failed):
        with tracer.start_as_current_span("hugginggpt.task") as span:
            record_task(span, result)
    first, second = spans.get_finished_spans()
    assert first.attributes["hugginggpt.task.status"] == "ok" and first.status.status_code.name == "UNSET"
    assert first.attributes["hugginggpt.model_id"] == "m/cap" and first.attributes["hugginggpt.backend"] == "embedded"
    assert list(first.attributes["hugginggpt.output.sha256"]) == [caption.sha256, wav.sha256]
    assert list(first.attributes["hugginggpt.output.kinds"]) == ["text", "audio"]
    assert list(first.attributes["hugginggpt.output.sizes"]) == [caption.size, 64]
    assert output_attributes([]) == {"hugginggpt.output.kinds": [], "hugginggpt.output.sha256": [],
                                     "hugginggpt.output.sizes": []}
    assert second.attributes["hugginggpt.task.status"] == "failed"
    assert second.attributes["hugginggpt.error.code"] == "task_timeout"
    assert second.attributes["error.type"] == "TaskTimeout"
    assert second.status.status_code.name == "ERROR" and second.status.description == "took too long"
