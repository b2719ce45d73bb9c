"""An LLM answer that lies about the run is not shown: files the run did not make (cited by path), a medium it did
not make, or every task succeeded when one did not. The deterministic answer is given instead, saying why; a
truthful answer passes unchanged. The LLM is ``FakeOpenAIServer`` answering over real HTTP to the real client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hugginggpt.answer_sections import WITHHELD_NOTE
from hugginggpt.artifacts import ArtifactStore
from hugginggpt.grounding import withheld_note
from hugginggpt.guard import guard_text
from hugginggpt.llm.openai_compat import OpenAICompatible
from hugginggpt.planning import repair_plan
from hugginggpt.respond import Responder, deterministic_answer
from hugginggpt.results import ErrorInfo, ModelChoice, RunResult, TaskResult
from hugginggpt.tasks import default_registry
from openai_stub import FakeOpenAIServer

CAPTION = "An image the classifier cannot name with confidence (best guess: kite (bird of prey), 9%)."
LIE = ("Done! I produced /tmp/ws/artifacts/" + "ab" * 32 + ".png and /etc/shadow_copy.wav successfully, and the "
       "image shows a cat. All tasks succeeded.")


def _run(tmp_path: Path, *, speech_failed: bool = False) -> RunResult:
    """describe cat.jpg and read it aloud: a caption, then speech (a real WAV artifact, or a failure)."""
    store = ArtifactStore(tmp_path)
    plan, _ = repair_plan([{"task": "image-to-text", "id": 0, "args": {"image": "cat.jpg"}},
                           {"task": "text-to-speech", "id": 1, "args": {"text": "<GENERATED>-0"}}],
                          default_registry())
    choice = ModelChoice(task_id=0, task="image-to-text", model_id="m/cap", backend="embedded", reason="r")
    results = [TaskResult(task=plan.tasks[0], status="ok", choice=choice, outputs=[store.put_text(CAPTION)])]
    if speech_failed:
        err = ErrorInfo(type="ExpertError", code="expert_failed", message="The speech model failed.")
        results.append(TaskResult(task=plan.tasks[1], status="failed", error=err))
    else:
        wav = store.put_bytes(b"RIFF0000WAVEfmt ", "audio", ext=".wav", task_id=1)
        results.append(TaskResult(task=plan.tasks[1], status="ok", outputs=[wav]))
    return RunResult(run_id="x", request="describe cat.jpg and read it aloud", plan=plan.tasks, results=results)


@pytest.fixture
def answering() -> Iterator[list[FakeOpenAIServer]]:
    servers: list[FakeOpenAIServer] = []
    yield servers
    for server in servers:
        server.close()


def _answer(servers: list[FakeOpenAIServer], text: str, run: RunResult) -> str:
    server = FakeOpenAIServer.answering(text, "stop")
    servers.append(server)
    llm = OpenAICompatible(server.url, model="fake", capable=True, max_retries=0, timeout=10)
    return Responder(llm).answer(run)


def test_an_answer_citing_files_not_made_is_not_shown(tmp_path: Path, answering: list[FakeOpenAIServer]) -> None:
    run = _run(tmp_path)
    answer = _answer(answering, LIE, run)
    assert answer.startswith(deterministic_answer(run) + WITHHELD_NOTE)
    assert "shadow_copy" not in answer and "abab" not in answer and "shows a cat" not in answer
    assert "[no such file]" not in answer and "succeeded" not in answer.split(WITHHELD_NOTE)[0]
    assert CAPTION in answer and str(run.artifacts[-1].path) in answer


def test_a_path_without_a_medium_word_is_still_checked(tmp_path: Path, answering: list[FakeOpenAIServer]) -> None:
    run = _run(tmp_path)
    answer = _answer(answering, "The caption is saved in /tmp/ws/artifacts/caption.txt for you.", run)
    assert answer == deterministic_answer(run) + withheld_note(["cited 1 file that this run did not make"])


def test_a_claim_that_all_succeeded_when_one_failed_is_not_shown(tmp_path: Path,
                                                                 answering: list[FakeOpenAIServer]) -> None:
    run = _run(tmp_path, speech_failed=True)
    answer = _answer(answering, "The picture shows a bird of prey. Every task completed successfully.", run)
    assert answer == deterministic_answer(run) + withheld_note(["said that every task succeeded, but 1 of 2 did not"])
    assert "1. text-to-speech: FAILED - The speech model failed." in answer


def test_a_truthful_answer_passes_unchanged(tmp_path: Path, answering: list[FakeOpenAIServer]) -> None:
    run = _run(tmp_path)
    wav = run.artifacts[-1].path
    truthful = (f"The captioner could not name the image with confidence (best guess: a kite, 9%). "
                f"Here is the caption read aloud: {wav}.")
    assert _answer(answering, truthful, run) == truthful


def test_the_guard_reads_a_path_as_part_of_its_sentence() -> None:
    """A dot inside a path does not end the sentence: "I produced /x/y.png" claims an image."""
    report = guard_text(LIE, media_made={"audio"}, tasks_ran=True)
    assert report.problems == ["claimed an image that was not made"]
    assert report.text == "Done! All tasks succeeded."
    assert guard_text("Pi is 3.14 here. Here is the audio: /w/a.wav.", media_made={"audio"}).text == \
        "Pi is 3.14 here. Here is the audio: /w/a.wav."
