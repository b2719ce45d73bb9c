"""The web UI's parts without a browser: the endpoint rule of the LLM settings, and how a run's end is shown (a run
whose tasks failed never reads as a success)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hugginggpt.config import ServerSettings
from hugginggpt.errors import ConfigError, ResourceAccessDenied
from hugginggpt.server.ui import _answer_messages, _media
from hugginggpt.server.uiparts import CSS, ProgressBoard, check_endpoint, llm_policy, normalize_endpoint
from hugginggpt.server.view import PublicView

ALLOWED = "http://127.0.0.1:11434/v1"


def test_llm_settings_are_off_by_default():
    policy = llm_policy(ServerSettings())
    assert not policy.enabled and "ui_llm_settings" in policy.reason
    with pytest.raises(ResourceAccessDenied):
        check_endpoint(policy, ALLOWED)


def test_llm_settings_need_an_api_key():
    policy = llm_policy(ServerSettings(ui_llm_settings=True, ui_llm_allowlist=[ALLOWED]))
    assert not policy.enabled and "api_key" in policy.reason


@pytest.mark.parametrize("url", [ALLOWED, ALLOWED + "/", "HTTP://127.0.0.1:11434/v1", " http://127.0.0.1:11434/v1 ",
                                 "http://127.0.0.1:11434/v1//"])
def test_allowlisted_endpoint_in_any_spelling(url):
    policy = llm_policy(ServerSettings(api_key="k", ui_llm_settings=True, ui_llm_allowlist=[ALLOWED + "/"]))
    assert check_endpoint(policy, url) == ALLOWED


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:11435/v1", "http://127.0.0.1:11434/v1/../admin", "http://127.0.0.1:11434/v1/./x",
    "http://127.0.0.1:11434/v1/chat", "http://127.0.0.1:11434", "http://user:pw@127.0.0.1:11434/v1",
    "http://127.0.0.1:11434/v1?next=http://10.0.0.1", "http://127.0.0.1:11434/v1#x", "https://127.0.0.1:11434/v1",
    "http://127.0.0.1:11434/v\n1", "http://127.0.0.1:11434/v1%0a", "http://127.0.0.1:11434\\@10.0.0.1/v1",
    "file:///etc/passwd", "gopher://127.0.0.1:11434/v1", "http://[::1/v1", "", "v1", "http://169.254.169.254/latest",
    "http://127.0.0.1:99999/v1", "http://localhost:11434/v1"])
def test_anything_else_is_refused_naming_the_rule(url):
    policy = llm_policy(ServerSettings(api_key="k", ui_llm_settings=True, ui_llm_allowlist=[ALLOWED]))
    with pytest.raises(ResourceAccessDenied) as info:
        check_endpoint(policy, url)
    assert "ui_llm_allowlist" in info.value.message and ALLOWED in (info.value.hint or "")


@pytest.mark.parametrize("entry", ["ftp://host/v1", "http://u@host/v1", "127.0.0.1:11434", "http://h/v1?x"])
def test_malformed_allowlist_entry_is_a_config_error(entry):
    with pytest.raises(ConfigError, match="ui_llm_allowlist"):
        llm_policy(ServerSettings(ui_llm_allowlist=[entry]))


@pytest.mark.parametrize(("url", "norm"), [("http://H:80/v1/", "http://h/v1"), ("https://h:443", "https://h"),
                                           ("http://[::1]:8080/v1", "http://[::1]:8080/v1")])
def test_normalize_endpoint(url, norm):
    assert normalize_endpoint(url) == norm


# ----- how a run's end is shown -----------------------------------------------------------------------------------
def _result(*statuses: str) -> dict[str, Any]:
    names = ["translation", "text-classification", "text-to-speech"]
    results = [{"task": {"id": i, "task": names[i]}, "status": st,
                "error": None if st == "ok" else {"message": f"task {i} {st}", "code": "x"}, "outputs": []}
               for i, st in enumerate(statuses)]
    ok = statuses.count("ok")
    status = "succeeded" if ok == len(statuses) else "partial" if ok else "failed"
    return {"status": status, "results": results, "answer": "All tasks completed successfully."}


def _board(result: dict[str, Any], run_status: str) -> ProgressBoard:
    board = ProgressBoard()
    board.run_id = "r1"
    for stage in ("plan", "select", "execute", "respond"):
        data = {"plan": [r["task"] for r in result["results"]]} if stage == "plan" else {}
        board.update({"kind": "stage", "stage": stage, "status": "done", "data": data})
    for r in result["results"]:
        board.update({"kind": "task", "task_id": r["task"]["id"], "status": r["status"], "data": {}})
    board.update({"kind": "answer", "status": run_status})
    board.finish(run_status, result)
    return board


@pytest.mark.parametrize(("statuses", "final", "label", "step"), [
    (("ok", "ok"), "succeeded", "succeeded", "done"),
    (("failed", "ok"), "partial", "partly done (1 of 2 tasks failed)", "partial"),
    (("failed", "skipped"), "failed", "failed (1 of 2 tasks failed, 1 skipped)", "failed")])
def test_progress_board_states_the_outcome(statuses, final, label, step):
    # The server recorded "succeeded" (as it did before runs had an honest status): the result's own status wins.
    board = _board(_result(*statuses), "succeeded")
    html = board.progress_html()
    assert board.final == final and label in html
    assert f'<div class="hg-step {step}">' in html and "Run</div>" in html


def test_a_cached_task_says_so_with_or_without_a_message():
    board = ProgressBoard()
    board.update({"kind": "task", "task_id": 0, "status": "ok", "data": {"seconds": 0.5, "cache": "hit"}})
    board.update({"kind": "task", "task_id": 1, "status": "ok", "message": "3 objects",
                  "data": {"seconds": 0.2, "cache": "hit"}})
    board.update({"kind": "task", "task_id": 2, "status": "ok", "message": "a caption", "data": {"seconds": 0.1}})
    assert board.task_info == {0: "0.50 s · cached", 1: "3 objects · cached", 2: "a caption"}


def test_server_failure_wins_over_the_result():
    board = _board(_result("ok"), "interrupted")
    assert board.final == "interrupted" and "interrupted" in board.progress_html()


@pytest.mark.parametrize(("statuses", "first"), [
    (("failed", "skipped"), "**Failed**: 2 of 2 tasks did not finish (#0 translation, #1 text-classification)"),
    (("ok", "failed"), "**Partly done**: 1 of 2 tasks did not finish (#1 text-classification)")])
def test_answer_never_reads_as_a_success(tmp_path, statuses, first):
    result = _result(*statuses)
    rec = SimpleNamespace(status=result["status"], result=result, error=None)
    st = SimpleNamespace(view=PublicView(tmp_path))
    text = _answer_messages(None, st, rec)[0]["content"]
    assert text.startswith(first)
    assert text.endswith("All tasks completed successfully.")  # the LLM's words stay, under the honest status


def test_no_share_button_on_media(tmp_path):
    import gradio as gr

    for media in ("image", "audio", "video"):
        comp = _media(gr, media, tmp_path / "x.bin")
        assert "share" not in (comp.buttons or []), media
    assert '#hg-chat button[aria-label="Share"]' in CSS  # the chatbot's own per-message Share button


# ----- the chat handler's own failures ----------------------------------------------------------------------------
def _fn(app: Any, name: str) -> Any:
    """The UI's event function ``name`` (a Gradio BlockFunction)."""
    from starlette.routing import Mount

    mount = next(r for r in app.router.routes if isinstance(r, Mount) and r.path == "/ui")
    blocks = mount.app.app.get_blocks()  # UIGuard -> Gradio's app
    return next(f for f in blocks.fns.values() if f.name == name)


def _respond(app: Any) -> Any:
    return _fn(app, "respond").fn


def _last(app: Any, message: dict[str, Any]) -> tuple[Any, ...]:
    import asyncio

    async def run() -> list[tuple[Any, ...]]:
        return [out async for out in _respond(app)(message, [], None)]

    return asyncio.run(run())[-1]


@pytest.mark.parametrize("files", [[], ["bad"]])
def test_a_failure_before_the_run_is_said_in_the_chat(tmp_path, shared_agent, monkeypatch, files):
    """A bug (its text may hold internals) is named, not quoted; a refused upload gives its reason. Either way the
    box is enabled again with the text back in it."""
    from hugginggpt.config import HuggingGPTConfig
    from hugginggpt.server.app import create_app

    app = create_app(HuggingGPTConfig(workspace=tmp_path / "ws", server={"ui": True}), agent=shared_agent)

    async def broken(*_a: Any, **_k: Any) -> str:
        raise RuntimeError("/srv/private/state.db is locked")

    monkeypatch.setattr(app.state.hg.runs, "start", broken)
    if files:
        (tmp_path / "notes.txt").write_text("plain text, not media")
        files = [str(tmp_path / "notes.txt")]
    chat, box, *_ = _last(app, {"text": "what is the sentiment of: fine", "files": files})
    said = chat[-1]["content"]
    if files:
        assert "'notes.txt' is not an image, audio or video file" in said and "Upload PNG" in said, said
    else:
        assert said.startswith("⚠️ Internal error (RuntimeError)") and "/srv/private" not in said
    assert "what is the sentiment of: fine" in str(box.value)
    # respond's last update keeps the box locked; the event chained after it enables the box (see unlock in ui.py)
    assert box.interactive is False
    unlock = _fn(app, "unlock")
    update = unlock.fn()
    # Gradio applies only the arguments given to the component; no value is given, so the text put back stays
    assert update.interactive is True and "value" not in update._constructor_args[0]
