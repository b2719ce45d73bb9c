"""Server parts without a running agent: error statuses, path <-> URL rewriting, the SQLite store, the plan graph,
the progress board, upload sniffing and the refusal of non-upload references."""

from __future__ import annotations

import pytest

from hugginggpt.artifacts import ArtifactStore
from hugginggpt.errors import ConfigError, LLMQuotaError, PlanError, RequestError, ResourceAccessDenied, ResourceError
from hugginggpt.plan_schema import TaskSpec
from hugginggpt.results import ErrorInfo, RunResult, TaskResult
from hugginggpt.server.errors import APIError, status_of
from hugginggpt.server.graph import plan_svg
from hugginggpt.server.inputs import InputGate
from hugginggpt.server.runs import failure_of
from hugginggpt.server.schemas import ChatMessage
from hugginggpt.server.store import RunRecord, ServerDB
from hugginggpt.server.uiparts import ProgressBoard
from hugginggpt.server.view import PublicView, describe_event

from .conftest import png_bytes

SHA = "ab" * 32


def test_error_statuses_follow_the_class_hierarchy():
    assert status_of(RequestError.code) == 400
    assert status_of(PlanError.code) == 422
    assert status_of(ConfigError.code) == 500
    assert status_of(LLMQuotaError.code) == 429
    assert status_of(ResourceError.code, "File not found: 'x.png'.") == 400
    assert status_of(ResourceAccessDenied.code, "Access to '/etc/passwd' is not allowed: outside.") == 403
    assert status_of("resource_forbidden", "", "ResourceAccessDenied") == 403
    assert status_of("payload_too_large") == 413
    assert status_of("something_new") == 500

    class MyPlanError(PlanError):
        code = "my_plan_problem"

    assert status_of("my_plan_problem", "", "MyPlanError") == 422
    assert status_of("my_plan_problem") == 422


def test_public_view_rewrites_paths_both_ways(tmp_path):
    view = PublicView(tmp_path)
    path = f"{tmp_path}/{SHA}.wav"
    assert view.text(f"audio at {path}") == f"audio at /v1/artifacts/{SHA}.wav"
    assert view.to_paths(f"see /v1/artifacts/{SHA}.wav") == f"see {path}"
    assert view.to_paths(f"see http://host:8004/v1/artifacts/{SHA}.wav") == f"see {path}"
    assert view.to_names(f"describe /v1/artifacts/{SHA}.png") == f"describe {SHA}.png"
    assert view.deep({"a": [path], "b": 1}) == {"a": [f"/v1/artifacts/{SHA}.wav"], "b": 1}
    # Only real artifact names are rewritten.
    assert view.to_paths("/v1/artifacts/../../etc/passwd") == "/v1/artifacts/../../etc/passwd"


def test_store_marks_unfinished_runs_interrupted(tmp_path):
    db = ServerDB(tmp_path / "s.sqlite3")
    for rid, status in (("a", "queued"), ("b", "running"), ("c", "succeeded")):
        db.create_run(RunRecord(id=rid, status="queued", source="api", request="r", input={}, conversation_id=None,
                                created_at=1.0))
        if status == "running":
            db.mark_running(rid)
        if status == "succeeded":
            db.finish_run(rid, "succeeded", {"answer": "ok"}, None)
    db.add_event("b", 1, {"kind": "stage", "at": 2.0})
    db.close()
    db = ServerDB(tmp_path / "s.sqlite3")  # as after a restart
    assert sorted(db.interrupt_unfinished("stopped")) == ["a", "b"]
    assert db.get_run("b").status == "interrupted" and db.get_run("b").error["code"] == "interrupted"
    assert db.get_run("c").status == "succeeded" and db.get_run("c").result == {"answer": "ok"}
    # The stream of a run killed by a crash ends with a final event, as every run's stream does.
    events = db.events("b")
    assert [(e.seq, e.event["kind"]) for e in events] == [(1, "stage"), (2, "answer")]
    assert events[-1].event["status"] == "interrupted" and events[-1].event["stage"] == "done"
    assert [e.event["kind"] for e in db.events("a")] == ["answer"]
    assert db.interrupt_unfinished("again") == []


def test_conversation_messages_round_trip(tmp_path):
    db = ServerDB(tmp_path / "s.sqlite3")
    db.add_message("c", "user", "hi", ["/x.png"], "r1")
    db.add_message("c", "assistant", "hello", [], "r1")
    assert [(m["role"], m["content"], m["files"]) for m in db.messages("c")] == [
        ("user", "hi", ["/x.png"]), ("assistant", "hello", [])]
    assert db.conversation_exists("c") and not db.conversation_exists("d")


def test_failure_of_a_run():
    spec = TaskSpec(task="image-classification", id=0, args={"image": "x.png"})
    refused = ErrorInfo(type="ResourceError", code="resource_error", message="Access to 'x' is not allowed")
    run = RunResult(run_id="r", request="q", results=[TaskResult(task=spec, status="failed", error=refused)])
    assert failure_of(run) == refused
    # Every task failed: the run failed with its root cause (the first failed task), whatever kind of error it was.
    broken = ErrorInfo(type="ExpertInputError", code="expert_input_error", message="truncated PNG")
    skipped = ErrorInfo(type="ExpertError", code="skipped", message="task 0 failed")
    spec1 = TaskSpec(task="text-to-speech", id=1, dep=[0], args={"text": "<GENERATED>-0"})
    run.results = [TaskResult(task=spec, status="failed", error=broken),
                   TaskResult(task=spec1, status="skipped", error=skipped)]
    assert run.status == "failed" and failure_of(run) == broken
    assert status_of(broken.code, broken.message, broken.type) == 400
    # Some task succeeded: partial, answered (the failures are in the results and the answer).
    run.results[1] = TaskResult(task=spec1, status="ok")
    assert run.status == "partial" and failure_of(run) is None
    run.results = run.results[1:]
    assert run.status == "succeeded" and failure_of(run) is None
    assert failure_of(RunResult(run_id="c", request="hi")) is None  # chit-chat: no tasks
    run.error = ErrorInfo(type="PlanError", code="plan_error", message="no plan")
    assert failure_of(run) == run.error


def test_plan_svg_draws_nodes_edges_and_states():
    tasks = [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {}},
             {"task": "text-to-speech", "id": 1, "dep": [0], "args": {}},
             {"task": "text-classification", "id": 2, "dep": [0], "args": {}}]
    svg = plan_svg(tasks, {0: "ok", 1: "running", 2: "failed"}, {0: "hugginggpt/captioner"})
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 3 and svg.count("marker-end=") == 2
    assert "#dcfce7" in svg and "#fef3c7" in svg and "#fee2e2" in svg
    assert "hugginggpt/captioner" in svg
    assert plan_svg([]) == ""
    assert "&lt;b&gt;" in plan_svg([{"task": "<b>", "id": 0, "dep": [-1]}])  # escaped


def test_progress_board_and_event_lines():
    board = ProgressBoard()
    events = [
        {"kind": "stage", "stage": "plan", "status": "running"},
        {"kind": "stage", "stage": "plan", "status": "done",
         "data": {"plan": [{"task": "text-classification", "id": 0, "dep": [-1], "args": {}}]}},
        {"kind": "stage", "stage": "select", "status": "done",
         "data": {"choices": {"0": {"model_id": "hugginggpt/vader-sentiment", "reason": "only one"}}}},
        {"kind": "task", "stage": "execute", "status": "ok", "task_id": 0, "task": "text-classification",
         "data": {"seconds": 0.01}},
    ]
    for ev in events:
        board.update(ev)
        assert describe_event(ev)
    assert "hg-step done" in board.progress_html() and "text-classification" in board.progress_html()
    assert "<svg" in board.plan_html()
    assert "vader-sentiment" in board.models_html() and "only one" in board.models_html()
    board.update({"kind": "error", "message": "boom"})
    assert "boom" in board.progress_html()


@pytest.fixture
def gate(tmp_path):
    store = ArtifactStore(tmp_path / "ws")
    db = ServerDB(tmp_path / "ws" / "s.sqlite3")
    return InputGate(store, db, PublicView(store.root), max_upload_mb=1, allow_urls=False)


def test_gate_stores_uploads_by_content(gate):
    art, media = gate.upload_bytes(png_bytes(), "photo.jpg")  # a PNG named .jpg: the content decides
    assert media == "image" and art.path.suffix == ".png" and art.mime == "image/png"
    assert gate.attachment(art.name) == art.path
    assert gate.attachment(art.sha256) == art.path
    assert gate.attachment("/v1/artifacts/" + art.name) == art.path
    with pytest.raises(APIError) as info:
        gate.upload_bytes(b"%PDF-1.4 not media", "doc.pdf")
    assert info.value.status == 415
    with pytest.raises(APIError) as info:
        gate.upload_bytes(b"\0" * (2 * 1024 * 1024), "big.bin")
    assert info.value.status == 413


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../etc/passwd", "~/.ssh/id_rsa", "C:\\Windows\\win.ini",
                                 "file:///etc/passwd", SHA + "/../x", ""])
def test_gate_refuses_anything_but_uploads(gate, ref):
    with pytest.raises(APIError) as info:
        gate.attachment(ref)
    assert info.value.status == 403


def test_gate_messages_split_request_history_and_files(gate):
    art, _ = gate.upload_bytes(png_bytes())
    msgs = [ChatMessage(role="system", content="be nice"),
            ChatMessage(role="user", content="describe it", files=[art.name]),
            ChatMessage(role="assistant", content=f"see /v1/artifacts/{art.name}"),
            ChatMessage(role="user", content="now classify it")]
    inputs = gate.from_messages(msgs)
    assert inputs.request == "now classify it" and inputs.files == []
    assert [h["role"] for h in inputs.history] == ["user", "assistant"]
    assert inputs.history[0]["files"] == [str(art.path)]
    assert str(art.path) in inputs.history[1]["content"]  # URLs back to workspace paths for the agent
    with pytest.raises(APIError) as info:
        gate.from_messages([ChatMessage(role="assistant", content="hi")])
    assert info.value.status == 400


def test_cli_hints_are_given_as_http_advice(tmp_path):
    view = PublicView(tmp_path)
    for hint in ("Attach the file with --file (or upload it), or add its directory to allowed_dirs.",
                 "Use a path inside the working directory or attach the file with --file.",
                 "Give an existing file with --file or feed it from an earlier task.",
                 "Check the path given with --file."):
        said = view.text(hint)
        assert "--file" not in said and "working directory" not in said and "POST /v1/files" in said, said
    assert view.text("Upload the file with POST /v1/files.") == "Upload the file with POST /v1/files."


def test_login_limiter_counts_wrong_keys_per_address_in_a_window():
    from hugginggpt.server.login import LoginLimiter

    limiter = LoginLimiter(max_failures=2, window=60.0, max_clients=2)
    for _ in range(2):
        assert limiter.retry_after("a") == 0
        limiter.failed("a")
    assert 1 <= limiter.retry_after("a") <= 60 and limiter.retry_after("b") == 0
    limiter.failed("b")
    limiter.failed("c")  # over max_clients: the least recently seen address ("a") is forgotten
    assert limiter.retry_after("a") == 0
    limiter.succeeded("b")
    assert limiter.retry_after("b") == 0


def test_run_manager_refuses_an_oversized_history_before_storing(tmp_path):
    import asyncio
    from types import SimpleNamespace

    from hugginggpt.config import HuggingGPTConfig
    from hugginggpt.errors import RequestTooLarge
    from hugginggpt.server.inputs import Inputs
    from hugginggpt.server.runs import RunManager

    db = ServerDB(tmp_path / "s.sqlite3")
    agent = SimpleNamespace(config=HuggingGPTConfig(workspace=tmp_path, max_history_chars=100))
    runs = RunManager(agent, db, PublicView(tmp_path))
    big = Inputs(request="hi", history=[{"role": "user", "content": "y" * 101}])
    with pytest.raises(RequestTooLarge, match="max_history_chars"):
        asyncio.run(runs.start(big, source="ui"))
    assert db.list_runs() == []
