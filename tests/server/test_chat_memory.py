"""Structured chat memory over HTTP: an assistant message the server answered is resolved to its stored run (by the
``run_id`` sent with it, or by its text), and follow-ups work on that run's real outputs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import png_bytes, sse_events, wait_run

REWORDED = "Done! Ask me anything else."
pytestmark = pytest.mark.slow


def _describe(client: httpx.Client) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A first turn over /v1/chat/completions: the request message, the returned assistant message, the caption."""
    up = client.post("/v1/files", files={"file": ("bus.png", png_bytes(), "image/png")}).json()
    ask = {"role": "user", "content": "describe this image", "files": [up["name"]]}
    r = client.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": [ask]})
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert message["run_id"] == r.json()["hugginggpt"]["run_id"]
    run = client.get(f"/v1/runs/{message['run_id']}").json()
    caption = run["results"][0]["outputs"][0]["text"]
    assert run["results"][0]["task"] == "image-to-text" and caption
    return ask, message, caption


def _spoken(text: str) -> str:
    return text if text.rstrip()[-1:] in ".!?" else text.rstrip() + "."


def _tasks(client: httpx.Client, messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    r = client.post("/tasks", json={"messages": messages})
    assert r.status_code == 200, r.text
    return [(t["task"], t["args"]) for t in r.json()]


def test_the_run_id_sent_back_brings_the_runs_text_whatever_the_message_says(client: httpx.Client) -> None:
    ask, message, caption = _describe(client)
    aloud = {"role": "user", "content": "now read it aloud"}
    reworded = {"role": "assistant", "content": REWORDED, "run_id": message["run_id"]}
    assert _tasks(client, [ask, reworded, aloud]) == [("text-to-speech", {"text": _spoken(caption)})]
    # the same words without the run id: another client's answer, read as the text it is
    assert _tasks(client, [ask, {"role": "assistant", "content": REWORDED}, aloud]) == [
        ("text-to-speech", {"text": REWORDED})]
    # an unknown run id is no error: the message is read from its text
    unknown = {"role": "assistant", "content": REWORDED, "run_id": "no-such-run"}
    assert _tasks(client, [ask, unknown, aloud]) == [("text-to-speech", {"text": REWORDED})]
    # the whole turn over /v1/chat/completions, the returned message sent back as it is
    r = client.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": [ask, message, aloud]})
    assert r.status_code == 200, r.text
    assert r.json()["hugginggpt"]["plan"][0]["args"]["text"] == _spoken(caption)


def test_an_answer_sent_back_without_its_run_id_is_found_by_its_text(client: httpx.Client) -> None:
    """Plain OpenAI clients send back only role and content (streamed or not): the answer's digest finds the run."""
    ask, message, caption = _describe(client)
    hg = client.app.state.hg  # type: ignore[attr-defined]
    content = hg.view.to_paths(message["content"])  # as the gate turns a sent-back answer into history
    resolved = hg.runs.remember([{"role": "user", "content": "x"}, {"role": "assistant", "content": content}])
    assert resolved[1]["run_id"] == message["run_id"] and resolved[1]["texts"] == [caption.strip()]
    spaced = hg.runs.remember([{"role": "assistant", "content": "  " + content.replace(" ", "\n ") + "\n"}])
    assert spaced[0]["run_id"] == message["run_id"]
    assert "run_id" not in hg.runs.remember([{"role": "assistant", "content": content + " (edited)"}])[0]

    r = client.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": [ask], "stream": True})
    assert r.status_code == 200, r.text
    chunks = [e["data"] for e in sse_events(r.text) if e.get("data", "").startswith("{")]
    streamed = "".join(json.loads(c)["choices"][0]["delta"].get("content") or "" for c in chunks
                       if json.loads(c).get("choices"))
    rid = r.headers["X-HuggingGPT-Run"]
    found = hg.runs.remember([{"role": "assistant", "content": hg.view.to_paths(streamed)}])[0]
    assert found["run_id"] == rid


def test_a_stored_conversation_reads_its_runs_outputs(client: httpx.Client) -> None:
    up = client.post("/v1/files", files={"file": ("bus.png", png_bytes(color="blue"), "image/png")}).json()
    r = client.post("/v1/runs", json={"request": "describe this image", "files": [up["name"]],
                                      "conversation_id": "memory"})
    assert r.status_code == 202, r.text
    first = wait_run(client, r.json()["id"])
    caption = first["results"][0]["outputs"][0]["text"]
    r = client.post("/v1/runs", json={"request": "now read it aloud", "conversation_id": "memory"})
    second = wait_run(client, r.json()["id"])
    assert second["status"] == "succeeded", second
    assert [(t["task"], t["args"]) for t in second["plan"]] == [("text-to-speech", {"text": _spoken(caption)})]
    hg = client.app.state.hg  # type: ignore[attr-defined]
    history = hg.db.get_run(second["id"]).input["history"]
    assert [t.get("run_id") for t in hg.runs.remember(history)] == [None, first["id"]]


def test_a_run_id_that_is_not_an_id_is_refused_by_the_schema(client: httpx.Client) -> None:
    messages = [{"role": "assistant", "content": "x", "run_id": "../etc"}, {"role": "user", "content": "hi"}]
    r = client.post("/tasks", json={"messages": messages})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"][-1] == "run_id"
