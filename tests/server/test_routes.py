"""Every route over the real agent: JARVIS, OpenAI (incl. streaming), runs and their events, uploads, artifacts,
conversations, errors with their statuses, OpenAPI."""

from __future__ import annotations

import hashlib
import json

import pytest

from .conftest import SENTIMENT, png_bytes, sse_events, wait_run

# The real agent runs (planner and embedded experts), waited on for up to 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]
USER = {"role": "user", "content": SENTIMENT}


def test_jarvis_hugginggpt_answers_from_the_model(client):
    r = client.post("/hugginggpt", json={"messages": [USER]})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"message"}
    assert "positive" in r.json()["message"]


def test_jarvis_tasks_returns_the_plan(client):
    r = client.post("/tasks", json={"messages": [USER], "api_key": "ignored", "api_type": "openai"})
    assert r.status_code == 200, r.text
    plan = r.json()
    assert [t["task"] for t in plan] == ["text-classification"]
    assert plan[0]["dep"] == [-1] and "I love this movie" in plan[0]["args"]["text"]


def test_jarvis_results_keyed_by_task_id(client):
    r = client.post("/results", json={"messages": [USER]})
    assert r.status_code == 200, r.text
    res = r.json()["0"]
    assert res["task"]["task"] == "text-classification"
    assert res["inference result"]["label"] == "positive"
    assert res["choose model result"]["id"] == "hugginggpt/vader-sentiment"
    assert res["status"] == "ok"


def test_history_is_passed_to_the_agent(client):
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}, USER]
    r = client.post("/v1/runs", json={"messages": messages})
    assert r.status_code == 202, r.text
    run = wait_run(client, r.json()["id"])
    assert run["status"] == "succeeded"
    rec = client.app.state.hg.db.get_run(run["id"])
    assert [m["role"] for m in rec.input["history"]] == ["user", "assistant"]


def test_openai_models_and_completion(client):
    r = client.get("/v1/models")
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["data"]] == ["hugginggpt"]
    r = client.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": [USER]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "hugginggpt"
    assert "positive" in body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["hugginggpt"]["plan"][0]["task"] == "text-classification"


def test_openai_streaming_chunks_then_done(client):
    with client.stream("POST", "/v1/chat/completions", json={
            "model": "hugginggpt", "messages": [USER], "stream": True,
            "stream_options": {"include_usage": True}}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    datas = [e["data"] for e in sse_events(body)]
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "positive" in content
    progress = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks if c["choices"])
    assert "plan" in progress and "text-classification" in progress
    assert [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"] == "stop"]
    assert chunks[-1]["choices"] == [] and "total_tokens" in chunks[-1]["usage"]


def test_openai_unknown_model_is_404(client):
    r = client.post("/v1/chat/completions", json={"model": "gpt-4", "messages": [USER]})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"


def test_run_lifecycle_with_live_events(client):
    r = client.post("/v1/runs", json={"request": SENTIMENT})
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] in ("queued", "running") and run["events_url"] == f"/v1/runs/{run['id']}/events"
    r = client.get(run["events_url"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    data = [json.loads(e["data"]) for e in events]
    assert [int(e["id"]) for e in events] == list(range(1, len(events) + 1))
    stages = [(d["stage"], d["status"]) for d in data if d["kind"] == "stage"]
    assert stages == [(s, st) for s in ("plan", "select", "execute", "respond") for st in ("running", "done")]
    assert [d["status"] for d in data if d["kind"] == "task"] == ["running", "ok"]
    assert data[-1]["kind"] == "answer" and data[-1]["status"] == "succeeded"
    done = client.get(f"/v1/runs/{run['id']}").json()
    assert done["status"] == "succeeded" and "positive" in done["answer"]
    assert done["results"][0]["model"]["model_id"] == "hugginggpt/vader-sentiment"
    assert done["results"][0]["outputs"][0]["url"].startswith("/v1/artifacts/")
    listed = client.get("/v1/runs", params={"status": "succeeded"}).json()["runs"]
    assert run["id"] in [x["id"] for x in listed]
    # Reconnecting with Last-Event-ID replays only what came after.
    again = sse_events(client.get(run["events_url"], headers={"Last-Event-ID": str(len(events) - 2)}).text)
    assert [int(e["id"]) for e in again] == [len(events) - 1, len(events)]


def test_unknown_run_and_route_are_404(client):
    for url in ("/v1/runs/nope", "/v1/runs/nope/events", "/v1/runs/..%2F..%2Fetc", "/v1/conversations/x",
                "/no/such/route"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "not_found"
    assert client.get("/hugginggpt").status_code == 405


def test_upload_serve_and_use(client):
    data = png_bytes()
    r = client.post("/v1/files", files={"file": ("circle.png", data, "application/octet-stream")})
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["sha256"] == hashlib.sha256(data).hexdigest()
    assert up["media"] == "image" and up["mime"] == "image/png" and up["name"] == up["sha256"] + ".png"
    r = client.get(up["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == data
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/v1/artifacts/{up['sha256']}").status_code == 200
    # The upload name works in `files` ...
    r = client.post("/tasks", json={"messages": [{"role": "user", "content": "classify this image",
                                                  "files": [up["name"]]}]})
    assert r.status_code == 200, r.text
    assert r.json()[0]["task"] == "image-classification"
    assert r.json()[0]["args"]["image"].startswith("/v1/artifacts/")  # never a server path
    # ... and as an OpenAI image part (the artifact URL).
    r = client.post("/tasks", json={"messages": [{"role": "user", "content": [
        {"type": "text", "text": "classify this image"}, {"type": "image_url", "image_url": {"url": up["url"]}}]}]})
    assert r.status_code == 200 and r.json()[0]["task"] == "image-classification"


def test_inline_data_url_is_stored_as_upload(client):
    import base64

    url = "data:image/png;base64," + base64.b64encode(png_bytes(color="blue")).decode()
    r = client.post("/tasks", json={"messages": [{"role": "user", "content": [
        {"type": "text", "text": "classify this image"}, {"type": "image_url", "image_url": {"url": url}}]}]})
    assert r.status_code == 200, r.text
    assert r.json()[0]["task"] == "image-classification"


def test_upload_errors(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_upload_mb=0.01)) as c:
        big = png_bytes(size=(600, 600)) + b"\0" * 20000
        r = c.post("/v1/files", files={"file": ("big.png", big, "image/png")})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        r = c.post("/v1/files", files={"file": ("notes.txt", b"just some text", "text/plain")})
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media"
        r = c.post("/v1/files", data={"nofile": "x"})
        assert r.status_code == 422


def test_artifact_names_are_validated(client):
    assert client.get("/v1/artifacts/not-a-sha").status_code == 422  # the path pattern is in the schema
    assert client.get("/v1/artifacts/" + "0" * 64 + ".png").status_code == 404
    assert client.get("/v1/artifacts/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)
    assert client.get("/v1/artifacts/" + "0" * 64 + "%0A").status_code == 422


def test_paths_in_body_are_refused(client, tmp_path):
    for ref in ("/etc/passwd", "../../etc/passwd", "..\\..\\secret.png", "file:///etc/passwd"):
        r = client.post("/hugginggpt", json={"messages": [{"role": "user", "content": "classify this image",
                                                           "files": [ref]}]})
        assert r.status_code == 403, (ref, r.text)
        assert r.json()["error"]["code"] == "resource_error"
        r = client.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "classify this image"}, {"type": "image_url", "image_url": {"url": ref}}]}]})
        assert r.status_code == 403, (ref, r.text)
    r = client.post("/hugginggpt", json={"messages": [{"role": "user", "content": "hi", "files": ["a" * 64]}]})
    assert r.status_code == 404
    # URLs are off unless allow_urls.
    r = client.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "classify"}, {"type": "image_url", "image_url": {"url": "http://10.0.0.1/a.png"}}]}]})
    assert r.status_code == 403
    # A real image outside the workspace, named in the request text with ../ : the agent refuses to read it.
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes())
    r = client.post("/hugginggpt", json={"messages": [{"role": "user",
                                                       "content": "classify the image ../../secret.png"}]})
    assert r.status_code == 403, r.text
    assert "not allowed" in r.json()["error"]["message"]
    # An absolute path in the text is no input either (never 200).
    r = client.post("/hugginggpt", json={"messages": [{"role": "user", "content": f"classify the image {secret}"}]})
    assert r.status_code in (403, 422), r.text


def test_bad_requests(client):
    r = client.post("/hugginggpt", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    r = client.post("/v1/chat/completions", content=b"[1, 2")
    assert r.status_code == 400
    r = client.post("/hugginggpt", json={"msgs": []})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = client.post("/hugginggpt", json={"messages": [{"role": "user", "content": "   "}]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = client.post("/hugginggpt", json={"messages": [{"role": "system", "content": "x"}]})
    assert r.status_code == 400  # no user message with a text: no request
    r = client.post("/v1/runs", json={})
    assert r.status_code == 422 and "exactly one" in r.json()["error"]["message"]
    r = client.post("/v1/runs", json={"request": "x", "messages": [USER]})
    assert r.status_code == 422
    r = client.post("/v1/runs", json={"request": SENTIMENT, "conversation_id": ""})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"][-1] == "conversation_id"
    r = client.post("/v1/runs", json={"request": "x" * 30000})
    assert r.status_code == 400 and "limit" in r.json()["error"]["message"]
    assert set(r.json()["error"]) >= {"type", "code", "message", "hint"}


def test_plan_error_is_422_with_hint(client):
    r = client.post("/hugginggpt", json={"messages": [{"role": "user", "content": "describe this image"}]})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] and err["message"] and err["hint"]  # a PlanError (its code is the planner's)


def test_conversation_is_stored(client):
    for text in (SENTIMENT, "what is the sentiment of: this is awful and boring"):
        r = client.post("/v1/runs", json={"request": text, "conversation_id": "conv-1"})
        assert r.status_code == 202
        wait_run(client, r.json()["id"])
    conv = client.get("/v1/conversations/conv-1").json()
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant", "user", "assistant"]
    assert "negative" in conv["messages"][3]["content"]
    rec = client.app.state.hg.db.get_run(conv["messages"][3]["run_id"])
    assert len(rec.input["history"]) == 2


def test_openapi_documents_every_route(client):
    spec = client.get("/openapi.json").json()
    for path in ("/hugginggpt", "/tasks", "/results", "/v1/chat/completions", "/v1/models", "/v1/runs",
                 "/v1/runs/{run_id}", "/v1/runs/{run_id}/events", "/v1/files", "/v1/artifacts/{name}",
                 "/v1/conversations/{conversation_id}"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    for name in ("ErrorResponse", "ChatCompletionRequest", "ChatCompletion", "RunOut", "FileOut", "JarvisRequest"):
        assert name in schemas
    assert "422" in spec["paths"]["/hugginggpt"]["post"]["responses"]


def test_cors_closed_by_default_and_configurable(make_app):
    from fastapi.testclient import TestClient

    pre = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    with TestClient(make_app()) as c:
        r = c.options("/v1/chat/completions", headers=pre)
        assert "access-control-allow-origin" not in r.headers
    with TestClient(make_app(cors_origins=["https://example.org"])) as c:
        r = c.options("/v1/chat/completions", headers=pre)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://example.org"


def test_follow_up_turn_uses_the_previous_output(client):
    """The answer cites an artifact URL; sent back as history, the next turn can work on that file."""
    first = [{"role": "user", "content": "read this aloud: 'The weather is lovely today'"}]
    r = client.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": first})
    assert r.status_code == 200, r.text
    answer = r.json()["choices"][0]["message"]["content"]
    assert "/v1/artifacts/" in answer and "/tmp" not in answer
    follow = [*first, {"role": "assistant", "content": answer}, {"role": "user", "content": "now transcribe it"}]
    r = client.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": follow})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hugginggpt"]["plan"][0]["task"] == "automatic-speech-recognition"
    assert "weather" in body["choices"][0]["message"]["content"].lower()


def test_the_request_is_the_last_user_message_with_a_text(client):
    """Messages after the request (an assistant's, a system's) are ignored; a later user message's files attach."""
    up = client.post("/v1/files", files={"file": ("c.png", png_bytes(), "image/png")}).json()
    messages = [USER, {"role": "assistant", "content": "x"}, {"role": "user", "content": "", "files": [up["name"]]},
                {"role": "system", "content": "be brief"}]
    r = client.post("/v1/runs", json={"messages": messages})
    assert r.status_code == 202, r.text
    rec = client.app.state.hg.db.get_run(r.json()["id"])
    assert rec.request == SENTIMENT and rec.input["history"] == []
    assert [p.rsplit("/", 1)[-1] for p in rec.input["files"]] == [up["name"]]
    wait_run(client, r.json()["id"])


def test_405_allows_every_method_of_the_path(client):
    r = client.request("OPTIONS", "/v1/runs")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) >= {"GET", "POST"}
    r = client.delete("/hugginggpt")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
