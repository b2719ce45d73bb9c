"""OpenAICompatible against a real OpenAI-compatible server (llama.cpp via xllamacpp on loopback) and against
``FakeOpenAIServer`` (a stdlib HTTP server) answering with fixed error statuses (401, 429, 503, 400) to exercise
the error paths."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from hugginggpt.catalog.choose import choose_models
from hugginggpt.config import LLMSettings
from hugginggpt.errors import LLMAuthError, LLMQuotaError, LLMResponseError, LLMUnavailable, PlanError
from hugginggpt.llm.embedded import EmbeddedLLM
from hugginggpt.llm.factory import build_llm
from hugginggpt.llm.openai_compat import OpenAICompatible
from hugginggpt.plan_schema import TaskSpec
from hugginggpt.planning.base import KnownResource, PlanContext
from hugginggpt.planning.llm_planner import LLMPlanner
from hugginggpt.planning.validate import validate_plan
from hugginggpt.tasks import default_registry
from llama_server import llama_server_url
from openai_stub import MakeFake, completion, fake_servers

_OK_BODY = completion('{"a": 1}', model="stub", prompt_tokens=5, completion_tokens=3)


# -- a real server --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """llama.cpp's OpenAI-compatible HTTP server over the packaged SmolLM2, on loopback."""
    yield from llama_server_url()


@pytest.fixture(scope="module")
def client(server_url: str) -> OpenAICompatible:
    return OpenAICompatible(server_url, timeout=300, max_retries=0, max_tokens=64)


@pytest.mark.slow
def test_chat_against_real_server(client: OpenAICompatible) -> None:
    out = client.chat([{"role": "system", "content": "You are a helpful assistant."},
                       {"role": "user", "content": "What is the capital of France?"}], max_tokens=32, stage="respond")
    assert "paris" in out.text.lower()
    assert out.prompt_tokens > 0 and out.completion_tokens > 0
    assert client.usage.by_stage["respond"]["calls"] >= 1
    assert client.model  # resolved from the server's /v1/models


@pytest.mark.slow
def test_json_schema_through_the_api(client: OpenAICompatible) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]},
                                               "confidence": {"type": "number"}},
              "required": ["answer", "confidence"], "additionalProperties": False}
    out = client.chat([{"role": "user", "content": "Is the sky blue? Answer as JSON."}], json_schema=schema)
    data = json.loads(out.text)
    assert data["answer"] in ("yes", "no") and isinstance(data["confidence"], (int, float))
    assert client.describe()["structured_output"] == "json_schema"  # the server accepted it: no fallback


@pytest.mark.slow
def test_stream_chat_against_real_server(client: OpenAICompatible) -> None:
    pieces = list(client.stream_chat([{"role": "user", "content": "Say hello."}], max_tokens=12))
    assert pieces and "".join(pieces).strip()


@pytest.mark.slow
def test_llm_planner_through_real_server(server_url: str) -> None:
    """The 135M model plans badly; what is checked is the mechanism: constrained output -> repair -> validate ->
    (re-ask) -> a valid plan or a PlanError listing the problems."""
    registry = default_registry()
    llm = build_llm(LLMSettings(backend="openai", base_url=server_url, timeout=300, max_retries=0))
    planner = LLMPlanner(llm, registry, demos_k=2, max_tokens=300)
    ctx = PlanContext(registry=registry, files=[KnownResource("photos/street.jpg", "image")])
    try:
        outcome = planner.plan("Describe photos/street.jpg and read the description aloud.", ctx)
    except PlanError as exc:
        assert exc.issues, "a PlanError must list the problems"
        assert llm.usage.by_stage["plan"]["calls"] == 2  # the first answer and exactly one re-ask
    else:
        assert validate_plan(outcome.plan, registry) == []
        assert outcome.planner == "llm" and outcome.raw and all(isinstance(r, str) for r in outcome.raw)
        for task in outcome.plan.tasks:
            assert task.task in registry
        assert llm.usage.by_stage["plan"]["calls"] == len(outcome.raw) <= 2


@pytest.mark.slow
def test_choose_models_through_real_server(client: OpenAICompatible) -> None:
    t0 = TaskSpec(task="image-classification", id=0, args={"image": "cat.jpg"})
    t1 = TaskSpec(task="summarization", id=3, args={"text": "a long text"})
    t2 = TaskSpec(task="text-to-speech", id=4, args={"text": "hi"})
    picks = choose_models(client, [
        (t0, [{"id": "org/vit", "downloads": 100, "likes": 3}, {"id": "org/resnet", "downloads": 900, "likes": 30}]),
        (t1, [{"id": "org/bart", "downloads": 50}, {"id": "org/t5", "downloads": 10, "tags": ["summarization"]}]),
        (t2, [{"id": "embedded/tts"}]),
    ], request="classify cat.jpg, summarize a text, say hi")
    assert picks[0][0] in ("org/vit", "org/resnet") and picks[0][1]
    assert picks[3][0] in ("org/bart", "org/t5")
    assert picks[4] == ("embedded/tts", "the only candidate")
    assert client.usage.by_stage["select"]["calls"] == 1  # one call for both tasks with a real choice


# -- error paths ----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_unavailable_and_names_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    client = OpenAICompatible(url, model="m", max_retries=2, backoff=0.01)
    with pytest.raises(LLMUnavailable, match="refused") as info:
        client.chat([{"role": "user", "content": "hi"}])
    assert url in str(info.value)


@pytest.fixture
def stub() -> Iterator[MakeFake]:
    yield from fake_servers()


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "x"}}


def test_401_is_an_auth_error_without_retry(stub: MakeFake) -> None:
    server = stub([(401, _error("invalid api key"))])
    client = OpenAICompatible(server.url, api_key="wrong", model="m", max_retries=3, backoff=0.01)
    with pytest.raises(LLMAuthError, match="invalid api key"):
        client.chat([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 1


def test_429_is_retried_then_a_quota_error(stub: MakeFake) -> None:
    server = stub([(429, _error("slow down"))])
    client = OpenAICompatible(server.url, model="m", max_retries=2, backoff=0.01)
    with pytest.raises(LLMQuotaError, match="429"):
        client.chat([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 3  # first try + 2 retries


def test_5xx_is_retried_then_succeeds(stub: MakeFake) -> None:
    server = stub([(503, _error("overloaded")), (200, _OK_BODY)])
    client = OpenAICompatible(server.url, model="m", max_retries=2, backoff=0.01)
    out = client.chat([{"role": "user", "content": "hi"}], stage="plan")
    assert out.text == '{"a": 1}' and len(server.requests) == 2
    assert client.usage.by_stage["plan"] == {"calls": 1, "prompt_tokens": 5, "completion_tokens": 3}


def test_json_schema_rejected_falls_back_to_json_object(stub: MakeFake) -> None:
    server = stub([(400, _error("response_format json_schema is not supported")), (200, _OK_BODY)])
    client = OpenAICompatible(server.url, model="m", max_retries=0)
    out = client.chat([{"role": "user", "content": "hi"}], json_schema={"type": "object"})
    assert json.loads(out.text) == {"a": 1}
    kinds = [r.get("response_format", {}).get("type") for r in server.requests]
    assert kinds == ["json_schema", "json_object"]
    client.chat([{"role": "user", "content": "again"}], json_schema={"type": "object"})
    assert server.requests[-1]["response_format"]["type"] == "json_object"  # the working mode is remembered


def test_empty_answer_is_a_response_error(stub: MakeFake) -> None:
    body = json.loads(json.dumps(_OK_BODY))
    body["choices"][0]["message"]["content"] = ""
    server = stub([(200, body)])
    with pytest.raises(LLMResponseError, match="empty"):
        OpenAICompatible(server.url, model="m").chat([{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(("body", "what"), [
    (b"<html>Bad gateway</html>", "is not JSON"),
    (b'{"choices": [{"message": {"content": null}}], "usage": "lots"}\x00\xff<html>', "is not UTF-8 text"),
])
def test_a_body_that_is_no_completion_is_a_response_error(stub: MakeFake, body: bytes, what: str) -> None:
    """A proxy's error page or bytes that are not UTF-8, sent with 200: an LLMResponseError naming the server and
    what was wrong with the body (it escaped as JSONDecodeError / UnicodeDecodeError)."""
    server = stub([(200, body)])
    client = OpenAICompatible(server.url, model="m", max_retries=2, backoff=0.01)
    with pytest.raises(LLMResponseError, match=what) as info:
        client.chat([{"role": "user", "content": "hi"}], json_schema={"type": "object"})
    assert server.url in info.value.message and "llm.base_url" in (info.value.hint or "")
    assert len(server.requests) == 1  # not retried, not downgraded to a weaker structured-output mode
    if what == "is not UTF-8 text":  # a stream's events are decoded as they come (HTML holds no event at all)
        with pytest.raises(LLMResponseError, match=what):
            list(client.stream_chat([{"role": "user", "content": "hi"}]))


def test_factory_builds_both_backends() -> None:
    emb = build_llm(LLMSettings())
    assert isinstance(emb, EmbeddedLLM) and emb.capable is False and emb.loaded is False
    oa = build_llm(LLMSettings(backend="openai", base_url="http://127.0.0.1:1/v1", model="m", max_retries=5))
    assert isinstance(oa, OpenAICompatible) and oa.capable is True and oa.max_retries == 5
    assert build_llm(LLMSettings(backend="openai", capable=False)).capable is False
    assert oa.describe()["base_url"] == "http://127.0.0.1:1/v1"


def test_describe_probes_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    down = OpenAICompatible(f"http://127.0.0.1:{_free_port()}/v1", model="m").describe()
    assert down["available"] is False and "cannot reach" in down["reason"]
    assert OpenAICompatible("http://127.0.0.1:1/v1").describe(probe=False)["reason"] == "not checked"
    assert OpenAICompatible().model == "gpt-4o-mini"  # OpenAI itself: a default model, no request made


@pytest.mark.slow
def test_describe_against_real_server(client: OpenAICompatible) -> None:
    info = client.describe()
    assert info["available"] is True and info["server_models"]


def test_a_400_for_another_reason_does_not_downgrade_structured_output(stub: MakeFake) -> None:
    server = stub([(400, _error("prompt is too long"))])
    client = OpenAICompatible(server.url, model="m", max_retries=0)
    with pytest.raises(LLMResponseError, match="too long"):
        client.chat([{"role": "user", "content": "hi"}], json_schema={"type": "object"})
    assert [r.get("response_format", {}).get("type") for r in server.requests] == ["json_schema", "json_object", None]
    assert client.describe(probe=False)["structured_output"] == "json_schema"
