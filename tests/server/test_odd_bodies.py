"""Bodies that are valid JSON but hold text no UTF-8 encoder takes (lone surrogates), bodies that no JSON decoder
reads (invalid UTF-8, nesting past the decoder's recursion limit), and a bad query parameter: each gets the
documented answer, never a 500."""

from __future__ import annotations

import json

from .conftest import wait_run

JSON = {"content-type": "application/json"}
# Lone surrogates: json.dumps writes them as the escapes "\\ud800", which are valid JSON; the characters they name
# cannot be encoded as UTF-8.
TEXT = "what is the sentiment of: \ud800 I love this movie \udfff"
CLEANED = "what is the sentiment of: \ufffd I love this movie \ufffd"
HISTORY = [{"role": "user", "content": "hi \ud83d"}, {"role": "assistant", "content": "Hello \udc00"}]


def _body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _messages(**extra: object) -> bytes:
    return _body(messages=[*HISTORY, {"role": "user", "content": TEXT}], **extra)


def test_lone_surrogates_in_the_text_are_replaced_not_a_500(client):
    db = client.app.state.hg.db
    r = client.post("/hugginggpt", content=_messages(), headers=JSON)
    assert r.status_code == 200, r.text
    assert "positive" in r.text
    r = client.post("/v1/chat/completions", content=_messages(model="hugginggpt"), headers=JSON)
    assert r.status_code == 200, r.text
    with client.stream("POST", "/v1/chat/completions", content=_messages(model="hugginggpt", stream=True),
                       headers=JSON) as s:
        assert s.status_code == 200
        assert s.read().decode().rstrip().endswith("data: [DONE]")
    r = client.post("/v1/runs", content=_body(request=TEXT), headers=JSON)
    assert r.status_code == 202, r.text
    run = wait_run(client, r.json()["id"])
    assert run["status"] == "succeeded"
    runs = db.list_runs(limit=10)
    assert len(runs) == 4 and {rec.request for rec in runs} == {CLEANED}
    assert all(turn["content"] in ("hi \ufffd", "Hello \ufffd") for rec in runs for turn in rec.input["history"])


def test_every_body_the_decoder_cannot_read_is_bad_json_with_a_hint(client):
    """Invalid UTF-8 and 100,000 nested arrays (past the recursion limit, parsed in a worker thread) were a bare
    400 "http_error" without a hint; broken syntax always was bad_json."""
    bodies = {b'{"messages": [{"role": "user", "content": "x \xff"}]}': "not UTF-8",
              b"[" * 100_000 + b"]" * 100_000: "nested too deeply", b'{"messages": [': "Expecting"}
    for body, why in bodies.items():
        for route in ("/hugginggpt", "/v1/runs", "/v1/chat/completions"):
            r = client.post(route, content=body, headers=JSON)
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["code"] == "bad_json" and why in error["message"] and error["hint"], error


def test_a_bad_query_parameter_is_named_as_one(client):
    r = client.get("/v1/runs", params={"limit": -1})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and "body" not in error["message"]
    assert error["message"].startswith("The request does not match the schema: query parameter limit:"), error
    r = client.post("/hugginggpt", json={"msgs": []})
    assert r.json()["error"]["message"].startswith("The request body does not match the schema: messages:")
