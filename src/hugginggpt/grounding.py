"""Answer grounding: what an LLM-written answer says about the run is checked against the run's real results.

An answer that cites a file the run did not make, or says every task succeeded when one did not, is not shown
(``answer_problems``; the responder gives the deterministic answer instead and says why). An answer that only
leaves a failed task out gets a "Not done:" section listing it (``not_done_note``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from .answer_sections import NOT_DONE_NOTE, WITHHELD_NOTE
from .media import PATH_RE
from .results import RunResult, TaskResult

log = logging.getLogger(__name__)

# "All tasks completed successfully.", "Everything is done.": a claim about the whole run.
_CLAIMS_ALL = re.compile(
    r"\b(?:all|every|each)\b(?: of)?(?: the| your| my)?(?: \d+)?(?: (?:tasks?|steps?|requests?|parts?|jobs?|things?))?"
    r"[^.!?\n]{0,40}?\b(?:complete[sd]?|done|succeeded|successful(?:ly)?|finished|worked)\b"
    r"|\beverything\b[^.!?\n]{0,30}?\b(?:done|complete[sd]?|worked|succeeded|fine|finished)\b",
    re.IGNORECASE)
_FAILURE_WORDS = re.compile(
    r"\b(?:fail\w*|error\w*|could ?n[o']?t|can ?n[o']?t|cannot|unable|impossible|unavailable|skipp\w*|"
    r"did ?n[o']?t|was ?n[o']?t|were ?n[o']?t|not (?:be )?(?:done|completed?|run|possible|available|produced)|"
    r"no (?:model|output|result)|timed? ?out|crash\w*)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def invented_paths(answer: str, run: RunResult) -> list[str]:
    """The file paths ``answer`` cites that are not artifacts of this run (an LLM may invent them).

    Paths are found as everywhere else (``media.PATH_RE``); only those with a directory (a ``/``) are claims about
    where a file is: a bare name ("poster.png") is how an answer names the user's own file."""
    real = {str(a.path) for a in run.artifacts} | {a.path.name for a in run.artifacts}
    real |= {str(Path(a.source)) for r in run.results for a in r.outputs if a.source}
    found = [m.group() for m in PATH_RE.finditer(answer)]
    return [p for p in found if "/" in p and p not in real and Path(p).name not in real]


def failed_tasks(run: RunResult) -> list[TaskResult]:
    return [r for r in run.results if r.status in ("failed", "skipped")]


def answer_problems(answer: str, run: RunResult) -> list[str]:
    """Why ``answer`` cannot be shown for ``run``: files it cites that the run did not make, a claim that every
    task succeeded when one did not. Empty when neither."""
    problems = []
    invented = invented_paths(answer, run)
    if invented:
        log.info("answer cited %s, not artifacts of this run", ", ".join(invented))
        n = len(set(invented))
        problems.append(f"cited {n} file{'s' if n > 1 else ''} that this run did not make")
    failed = failed_tasks(run)
    if failed and _CLAIMS_ALL.search(answer):
        problems.append(f"said that every task succeeded, but {len(failed)} of {len(run.results)} did not")
    return problems


def withheld_note(problems: list[str]) -> str:
    """The section saying that the LLM's answer is not shown, and why."""
    return (f"{WITHHELD_NOTE} the language model's answer, because it {'; it '.join(problems)}. "
            "The answer above is written from the task results.")


def not_done_note(answer: str, run: RunResult) -> str:
    """A "Not done:" section listing each failed or skipped task with its reason, for an LLM-written ``answer``
    that does not state it: those that no sentence of the answer names together with a word of failure (every one,
    when the answer claims that everything succeeded). Empty when nothing failed."""
    failed = failed_tasks(run)
    if not failed:
        return ""
    missing = failed if _CLAIMS_ALL.search(answer) else [r for r in failed if not states_failure(answer, r)]
    if not missing:
        return ""
    lines = [f"- task {r.task.id} ({r.task.task}): {r.status} - "
             f"{r.error.message if r.error else 'no reason recorded'}" for r in missing]
    return NOT_DONE_NOTE + "\n" + "\n".join(lines)


def states_failure(answer: str, r: TaskResult) -> bool:
    """Whether a sentence of ``answer`` names task ``r`` (its task name, its model, or "task <id>") and says it
    did not work."""
    names = {r.task.task.lower(), r.task.task.replace("-", " ").lower(), f"task {r.task.id}"}
    if r.choice:
        names.add(r.choice.model_id.lower())
    for sentence in _SENTENCE.findall(answer):
        low = sentence.lower()
        named = any(re.search(r"(?<![\w-])" + re.escape(n) + r"(?![\w-])", low) for n in names)
        if named and _FAILURE_WORDS.search(sentence):
            return True
    return False
