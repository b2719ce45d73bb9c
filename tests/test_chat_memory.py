"""Structured chat memory: an answer the agent produced carries its run's id, files and text outputs
(``RunResult.as_turn``), and follow-ups work on those whatever the answer's wording; a history from another client
(plain text) is still read from its text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from example_agent import example_agent
from hugginggpt import HuggingGPT, HuggingGPTConfig
from hugginggpt.agent import plan_only
from hugginggpt.artifacts import ArtifactStore
from hugginggpt.history import known_resources, text_outputs, turns
from hugginggpt.results import ErrorInfo, RunResult, Turn

REWORDED = "Done! Ask me anything else."


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> HuggingGPT:
    return example_agent(tmp_path_factory)


def _plan(agent: HuggingGPT, request: str, history: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    return [(t.task, t.args) for t in plan_only(agent, request, history=history).tasks]


def _reworded(result: RunResult) -> dict[str, Any]:
    """The run's own turn, with an answer text that names none of its outputs."""
    return {**result.as_turn().model_dump(), "content": REWORDED}


def _spoken(text: str) -> str:
    return text if text.rstrip()[-1:] in ".!?" else text.rstrip() + "."


@pytest.mark.slow
def test_read_it_aloud_uses_the_runs_caption_whatever_the_answer_says(agent: HuggingGPT) -> None:
    first = agent.run("describe poster.png")
    assert first.status == "succeeded", first.error
    caption = first.results[0].text
    assert caption and first.as_turn().texts == [caption.strip()] and first.as_turn().run_id == first.run_id
    history = [{"role": "user", "content": "describe poster.png"}, _reworded(first)]
    second = agent.chat([*history, {"role": "user", "content": "now read it aloud"}])
    assert second.status == "succeeded", second.error
    assert [(t.task, t.args) for t in second.plan] == [("text-to-speech", {"text": _spoken(caption)})]
    assert second.results[0].output_of("audio").path.exists()
    # The same words without the structure are another client's answer: read as the text it is.
    plain = [history[0], {"role": "assistant", "content": REWORDED}]
    assert _plan(agent, "now read it aloud", plain) == [("text-to-speech", {"text": REWORDED})]
    # and the structured turn of the speech run has no text: "read it aloud" again reads the caption
    again = [*history, {"role": "user", "content": "now read it aloud"}, _reworded(second)]
    assert second.as_turn().texts == [] and [a.kind for a in second.as_turn().artifacts or []] == ["audio"]
    assert _plan(agent, "read it aloud again", again) == [("text-to-speech", {"text": _spoken(caption)})]


@pytest.mark.slow
def test_a_structured_answers_files_are_its_runs_artifacts(agent: HuggingGPT) -> None:
    speech = agent.run("read this aloud: 'The exhibition opens at nine.'")
    assert speech.status == "succeeded", speech.error
    wav = str(speech.results[0].output_of("audio").path)
    history = [{"role": "user", "content": "read this aloud: 'The exhibition opens at nine.'"}, _reworded(speech)]
    assert _plan(agent, "now transcribe that audio", history) == [("automatic-speech-recognition", {"audio": wav})]
    # Without its structure the reworded answer names no file: there is nothing to transcribe.
    plain = agent.chat([history[0], {"role": "assistant", "content": REWORDED},
                        {"role": "user", "content": "now transcribe that audio"}])
    assert plain.status == "failed" and plain.error is not None and plain.error.code == "missing_input"


@pytest.mark.slow
def test_a_control_map_is_known_as_one_from_the_runs_task(agent: HuggingGPT) -> None:
    edges = agent.run("extract the canny edges of poster.png")
    assert [t.task for t in edges.plan] == ["canny-control"] and edges.status == "succeeded", edges.error
    turn = _reworded(edges)
    assert turn["artifacts"][0]["task"] == "canny-control"
    history = [{"role": "user", "content": "extract the canny edges of poster.png"}, turn]
    assert _plan(agent, "now the pose skeleton of it", history) == [("openpose-control", {"image": "poster.png"})]


@pytest.mark.slow
def test_a_history_from_another_client_is_read_from_its_text(agent: HuggingGPT) -> None:
    """Plain messages naming files and quoting outputs, written by hand: the text fallback."""
    speech = agent.run("read this aloud: 'Lunch is at noon.'")
    wav = speech.results[0].output_of("audio").path
    history = [{"role": "user", "content": "say something"},
               {"role": "assistant", "content": f"I said it. The recording is at {wav}, have a listen."}]
    assert _plan(agent, "transcribe that audio", history) == [("automatic-speech-recognition", {"audio": str(wav)})]
    quoted = [{"role": "assistant", "content": 'I split your request into 1 task(s) and ran them:\n'
                                               '0. image-to-text with m/cap: "a red bus in the rain"'}]
    assert _plan(agent, "now read it aloud", quoted) == [("text-to-speech", {"text": "a red bus in the rain."})]


def test_turns_of_failed_and_taskless_runs() -> None:
    failed = RunResult(run_id="r1", request="x", answer="I could not do that: no model.",
                       error=ErrorInfo(type="PlanError", code="plan_error", message="no model"))
    assert failed.as_turn().texts == [] and failed.as_turn().artifacts == []
    chat = RunResult(run_id="r2", request="tell me a joke", answer="Why did the bus stop? It was tired.")
    assert chat.as_turn().texts is None  # no task ran: the answer itself is read (a notice would not be)
    history = [chat.as_turn().model_dump(), failed.as_turn().model_dump()]
    assert text_outputs(history) == ["Why did the bus stop? It was tired."]
    notice = RunResult(run_id="r3", request="make a video", answer="Nothing was made for this request: no task.")
    assert text_outputs([notice.as_turn().model_dump()]) == []


def test_structured_files_outside_the_store_are_not_resources(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    real = store.put_bytes(b"RIFF0000WAVEfmt ", "audio", ext=".wav")
    turn = Turn(role="assistant", content="see /etc/made_up.wav", run_id="r",
                artifacts=[{"path": "/etc/secret.png", "kind": "image"}, {"path": str(real.path), "kind": "audio"}],
                texts=[])
    known = known_resources([turn.model_dump()], store)
    assert [(k.name, k.media, k.origin) for k in known] == [(str(real.path), "audio", "history")]


def test_an_invalid_turn_is_a_named_request_error(tmp_path: Path) -> None:
    from hugginggpt.errors import RequestError

    with pytest.raises(RequestError, match=r"History message 1 .*artifacts") as exc:
        turns([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "artifacts": "a.png"}])
    assert exc.value.hint and "run_id" in exc.value.hint
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path, allowed_dirs=[tmp_path]), base_dir=tmp_path)
    result = agent.chat([{"role": "assistant", "content": "x", "texts": "not a list"},
                         {"role": "user", "content": "now read it aloud"}])
    assert result.status == "failed" and result.error is not None and result.error.type == "RequestError"


def test_the_missing_input_error_declares_its_media() -> None:
    """The agent reads ``PlanError.media`` (declared and typed) to know that a follow-up lacks its text."""
    from hugginggpt.errors import PlanError
    from hugginggpt.planning.offline.missing import missing_input

    assert PlanError("no plan").media is None
    lacks = missing_input("text-to-speech", "text")
    assert isinstance(lacks, PlanError) and lacks.media == "text" and missing_input("x", "audio").media == "audio"
