"""Answers never hide failures: an LLM answer that claims every task succeeded when one did not is not shown (the
deterministic answer is, saying why); one that forgets a failed task gets a "Not done:" section appended with each
failure and its reason; the deterministic answer states the run's status."""

from __future__ import annotations

from pathlib import Path

from faults.fault_experts import Echo, FaultAgent, Raises
from hugginggpt.answer_sections import WITHHELD_NOTE
from hugginggpt.artifacts import ArtifactStore
from hugginggpt.grounding import not_done_note
from hugginggpt.planning import repair_plan
from hugginggpt.respond import Responder, deterministic_answer
from hugginggpt.results import ErrorInfo, ModelChoice, RunResult, TaskResult
from hugginggpt.tasks import default_registry
from llm_doubles import ScriptedLLM

REG = default_registry()
NO_MODEL = ErrorInfo(type="ModelSelectionError", code="no_model", message="No offline model for translation.")
SKIPPED = ErrorInfo(type="Skipped", code="dependency_failed", message="Skipped because task 1 (translation) failed.")


def partial_run(tmp_path: Path) -> RunResult:
    store = ArtifactStore(tmp_path)
    plan, _ = repair_plan([{"task": "summarization", "id": 0, "args": {"text": "a long text"}},
                           {"task": "translation", "id": 1, "args": {"text": "hello"}},
                           {"task": "text-to-speech", "id": 2, "args": {"text": "<GENERATED>-1"}}], REG)
    choice = ModelChoice(task_id=0, task="summarization", model_id="m/sum", backend="embedded", reason="r")
    results = [TaskResult(task=plan.tasks[0], status="ok", choice=choice, outputs=[store.put_text("short")]),
               TaskResult(task=plan.tasks[1], status="failed", error=NO_MODEL),
               TaskResult(task=plan.tasks[2], status="skipped", error=SKIPPED)]
    return RunResult(run_id="x", request="summarize, translate and read aloud", plan=plan.tasks, results=results)


def test_a_false_claim_of_success_gives_the_deterministic_answer(tmp_path: Path) -> None:
    run = partial_run(tmp_path)
    llm = ScriptedLLM("All tasks completed successfully.")
    answer = Responder(llm).answer(run)
    assert "completed successfully" not in answer
    assert answer.startswith(deterministic_answer(run))
    assert "1. translation: FAILED - No offline model for translation." in answer
    assert "2. text-to-speech: SKIPPED - Skipped because task 1 (translation) failed." in answer
    assert answer.endswith(f"{WITHHELD_NOTE} the language model's answer, because it said that every task "
                           "succeeded, but 2 of 3 did not. The answer above is written from the task results.")
    # the prompt told the LLM too
    prompt = llm.calls[0]["messages"][-1]["content"]
    assert "task 1 (translation) failed" in prompt and "do not say that all tasks succeeded" in prompt


def test_only_the_failures_the_answer_leaves_out_are_appended(tmp_path: Path) -> None:
    run = partial_run(tmp_path)
    told = "Here is the summary: short. The translation failed because no offline model can do it."
    note = not_done_note(told, run)
    assert "- task 2 (text-to-speech): skipped" in note and "- task 1 (translation)" not in note
    both = told + " Task 2 was skipped, so nothing was read aloud."
    assert not_done_note(both, run) == ""


def test_naming_a_task_without_saying_it_failed_is_not_enough(tmp_path: Path) -> None:
    run = partial_run(tmp_path)
    note = not_done_note("I did the summarization and the translation. Text-to-speech is ready.", run)
    assert "task 1 (translation)" in note and "task 2 (text-to-speech)" in note


def test_nothing_is_appended_when_every_task_succeeded(tmp_path: Path) -> None:
    run = partial_run(tmp_path)
    run.results = run.results[:1]
    assert not_done_note("All tasks completed successfully.", run) == ""


def test_the_deterministic_answer_states_the_status(tmp_path: Path) -> None:
    run = partial_run(tmp_path)
    assert run.status == "partial"
    assert "Run partial: 2 of 3 task(s) did not complete" in deterministic_answer(run)
    run.results = run.results[1:]
    assert run.status == "failed"
    assert "Run failed: none of the 2 task(s) completed." in deterministic_answer(run)


def test_through_the_agent_an_llm_claiming_success_is_corrected(tmp_path: Path) -> None:
    plan = [{"task": "text-classification", "id": 0, "args": {"text": "some text"}},
            {"task": "summarization", "id": 1, "args": {"text": "another text"}}]
    llm = ScriptedLLM("All tasks completed successfully.")
    agent = FaultAgent(plan, tmp_path, llm=llm, overrides={"text-classification": Raises.model_id,
                                                           "summarization": Echo.model_id})
    result = agent.run("classify and summarize")
    assert result.status == "partial"
    assert [c["stage"] for c in llm.calls] == ["respond"]
    assert "completed successfully" not in result.answer and WITHHELD_NOTE in result.answer
    assert "text-classification with faults/raises: FAILED - faults/raises failed: RuntimeError" in result.answer
