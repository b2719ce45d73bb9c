"""Stage 4: write the answer from the real results. Every file path in an answer is a real artifact
(``grounding``)."""

from __future__ import annotations

import logging
import re
from typing import Any

from .answer_sections import (
    FILES_NOTE,
    LEFT_OUT_NOTE,
    NO_GOOD_ANSWER_OPENING,
    NOT_MADE_NOTE,
    NOTE_HEAD,
    NOTHING_MADE_OPENING,
)
from .experts.embedded.labels import match_label
from .fallback import asked_media, counted_label, fallback_sentences, named_files, not_made_lines, video_only_answer
from .grounding import answer_problems, not_done_note, withheld_note
from .guard import guard_text
from .history import unused_citation_sentences
from .llm.base import LLM
from .payloads import Boxes
from .plan_schema import Plan, refs_in
from .respond_prompt import build_response_messages
from .results import RunResult, TaskResult
from .tasks import default_registry

log = logging.getLogger(__name__)

# A plan note about a task the planner left out or dropped (offline: "left out X: ..."; hybrid: "dropped task 1").
_DROPPED = re.compile(r"\b(?:left out|dropped task|dropped too)\b")



def results_digest(run: RunResult, max_text: int = 300) -> list[dict[str, object]]:
    """A compact, structured summary of the results (what the LLM responder sees)."""
    rows: list[dict[str, object]] = []
    for r in run.results:
        row: dict[str, object] = {"id": r.task.id, "task": r.task.task, "status": r.status}
        if r.choice:
            row["model"] = r.choice.model_id
        if r.status == "ok":
            row["outputs"] = [
                {"type": a.kind, "text": (a.text or "")[:max_text]} if a.kind == "text"
                else {"type": a.kind, "file": str(a.path)}
                for a in r.outputs
            ]
            facts = {k: v for k, v in r.data.items() if k not in ("embedding",)}
            if facts:
                row["facts"] = _trim(facts)
        elif r.error:
            row["error"] = r.error.message
        rows.append(row)
    return rows


def _trim(value: object, depth: int = 0) -> object:
    if isinstance(value, dict):
        return {k: _trim(v, depth + 1) for k, v in list(value.items())[:8]}
    if isinstance(value, list):
        return [_trim(v, depth + 1) for v in value[:6]]
    if isinstance(value, str):
        return value[:300]
    return value


def deterministic_answer(run: RunResult) -> str:
    """A clear answer without an LLM: what was done, with which model, and each result or error."""
    if not run.results:
        return "There was nothing to run for this request." + answer_notes(run)
    lines = [f"I split your request into {len(run.results)} task(s) and ran them:"]
    for r in run.results:
        lines.append(_describe(r))
    lines += detection_counts(run)
    files = [a for r in run.results for a in r.outputs if a.kind != "text"]
    if files:
        lines.append("Files produced:")
        lines += [f"  - {a.kind}: {a.path}" for a in files]
    failed = [r for r in run.results if r.status != "ok"]
    if failed and len(failed) < len(run.results):
        lines.append(f"Run partial: {len(failed)} of {len(run.results)} task(s) did not complete; the others are "
                     "unaffected.")
    elif failed:
        lines.append(f"Run failed: none of the {len(run.results)} task(s) completed.")
    return "\n".join(lines) + answer_notes(run)


def _describe(r: TaskResult) -> str:
    head = f"{r.task.id}. {r.task.task}"
    if r.choice:
        head += f" with {r.choice.model_id}"
    if r.status == "ok":
        parts = []
        for a in r.outputs:
            if a.kind == "text":
                text = (a.text or "").strip()
                parts.append(f'"{text[:500]}{"..." if len(text) > 500 else ""}"')
            else:
                parts.append(f"{a.kind} at {a.path}")
        return f"{head}: " + "; ".join(parts)
    reason = r.error.message if r.error else r.status
    hint = f" ({r.error.hint})" if r.error and r.error.hint else ""
    return f"{head}: {r.status.upper()} - {reason}{hint}"


class Responder:
    """LLM answer from the digest when the LLM is capable; otherwise the deterministic answer."""

    def __init__(self, llm: LLM | None = None, *, max_tokens: int = 600) -> None:
        self.llm = llm
        self.max_tokens = max_tokens  # an answer that reaches it is cut off: the deterministic answer is used

    def answer(self, run: RunResult) -> str:
        if self.llm is not None and getattr(self.llm, "capable", False) and run.results:
            try:
                messages = build_response_messages(run.request, Plan(tasks=run.plan), results_digest(run))
                out = self.llm.chat(messages, max_tokens=self.max_tokens, stage="respond")
                report = guard_text(out.text, finish_reason=out.finish_reason,
                                    media_made={a.kind for a in run.artifacts}, tasks_ran=True)
                text = report.text
                problems = report.problems or answer_problems(text, run)
                if problems:
                    # A looping, cut-off or lying answer (media or files not made, success that was not) is not
                    # shown at all: the deterministic answer says the same from the real results, and says why.
                    log.warning("LLM answer %s; using the deterministic answer", "; ".join(problems))
                    return deterministic_answer(run) + withheld_note(problems)
                if text:
                    return text + _missing_files_note(text, run) + not_done_note(text, run) + answer_notes(run)
            except Exception as exc:  # noqa: BLE001 - the deterministic answer is always available
                log.warning("LLM response failed, using the deterministic answer: %s", exc)
        return deterministic_answer(run)


def _missing_files_note(text: str, run: RunResult) -> str:
    """Make sure every produced file is cited, even when the LLM forgot one."""
    missing = [a for a in run.artifacts if a.kind != "text" and str(a.path) not in text and a.path.name not in text]
    if not missing:
        return ""
    return FILES_NOTE + "\n" + "\n".join(f"- {a.kind}: {a.path}" for a in missing)


def answer_notes(run: RunResult) -> str:
    """The notes every answer ends with, each section only when it has something to say: the default task done
    when no task was recognised, the tasks left out of the plan (from its notes), the media asked for that no task
    made, and the labels the detector knows when the request counts something else."""
    out = ""
    notes = fallback_sentences(run.plan_notes) + unused_citation_sentences(run.plan_notes) + detection_label_notes(run)
    if notes:
        out += NOTE_HEAD + " " + " ".join(notes)
    dropped = [n for n in run.plan_notes if is_dropped_note(n)]
    if dropped:
        out += LEFT_OUT_NOTE + "\n" + "\n".join(f"- {n}" for n in dropped)
    # Boxes drawn on the input are not the picture a request asks for ("give me a picture like this one").
    planned = {o for t in run.plan if t.task not in _ANNOTATES for o in _outputs(t.task)}
    produced: set[str] = {str(a.kind) for r in run.results if r.task.task not in _ANNOTATES for a in r.outputs}
    made = not_made_lines(run.request, produced, planned)
    if made:
        out += NOT_MADE_NOTE + "\n" + "\n".join(made)
    return out


_ANNOTATES = frozenset({"object-detection"})


def is_dropped_note(note: str) -> bool:
    """Whether a plan note is about a task the planner left out or dropped."""
    return bool(_DROPPED.search(note))


def _outputs(task: str) -> list[str]:
    registry = default_registry()
    return list(registry.get(task).outputs) if task in registry else []


def detection_label_notes(run: RunResult) -> list[str]:
    """When the request counts a thing ("how many zebras") that the detector that ran cannot see, say which
    labels it knows (from its result's ``classes_supported``)."""
    label = counted_label(run.request)
    if label is None:
        return []
    out = []
    for r in run.results:
        boxes = Boxes.from_facts(r.data) if r.status == "ok" and r.task.task == "object-detection" else None
        known = boxes.known if boxes is not None else None
        if not known or match_label(label, known) is not None or label in GENERIC_OBJECTS:
            continue
        model = r.choice.model_id if r.choice else "the detector"
        out.append(f"You asked to count {label}, but {model} only detects {', '.join(known)}: it cannot see "
                   f"{label}, so the count above is not a count of {label}. A hub object detector (e.g. "
                   "facebook/detr-resnet-50, 80 COCO classes) would; see docs/backends.md.")
    return out


def detection_counts(run: RunResult) -> list[str]:
    """The count each detection given a label reports ("Count: 3 people in street.jpg."): the objects of that label
    it found. None for a label its detector cannot see (``classes_supported``): ``detection_label_notes`` says so."""
    out = []
    for r in run.results:
        asked = r.task.args.get("text", "").strip() if r.task.task == "object-detection" else ""
        if r.status != "ok" or not asked or refs_in(asked):
            continue
        boxes = Boxes.from_facts(r.data) or Boxes(())
        known = boxes.known
        label = match_label(asked, known) if known else None
        if known and label is None:
            continue
        n = sum(1 for found in boxes.labels() if match_label(asked, [found]) is not None)
        image = r.task.args.get("image", "the image")
        refs = refs_in(image)
        where = f"the image of task {refs[0]}" if refs else image
        out.append(f"Count: {n} {_count_noun(label or asked, n)} in {where}.")
    return out


def _count_noun(label: str, n: int) -> str:
    if n == 1:
        return label
    if label == "person":
        return "people"
    return label + ("es" if label.endswith(("s", "x", "ch", "sh")) else "s")


# "how many objects": no particular label asked for.
GENERIC_OBJECTS = frozenset({"objects", "object", "things", "thing", "items", "item"})

_CHAT_SYSTEM = "You are HuggingGPT, a helpful assistant. Answer briefly."
_MIN_WORDS = 3  # a guarded chat answer shorter than this is no answer


def no_task_answer(llm: LLM, run: RunResult, history: list[dict[str, Any]], attached: list[Any]) -> str:
    """The answer to a request with an empty plan.

    A request that names a video (the only medium with no default task) or asks for media is answered without the
    LLM: it says what was not made and why. Anything else is chit-chat with the LLM, guarded (``guard``): the
    text is stopped where it repeats itself or cut back at the token limit, sentences claiming media are removed,
    and when too little is left a plain answer says so.
    """
    notes = answer_notes(run)
    videos = [f for f in named_files(run.request, attached) if f.media == "video"]
    if videos:
        return video_only_answer(videos) + notes
    if asked_media(run.request) or notes:
        return f"{NOTHING_MADE_OPENING}: no task in it was recognised." + notes
    messages = [{"role": "system", "content": _CHAT_SYSTEM}]
    messages += [{"role": m["role"], "content": str(m.get("content", ""))} for m in history[-6:]
                 if m.get("role") in ("user", "assistant")]
    messages.append({"role": "user", "content": run.request})
    out = llm.chat(messages, max_tokens=256, stage="respond")
    report = guard_text(out.text, finish_reason=out.finish_reason)
    if not report.tripped:
        return report.text
    problems = "; ".join(report.problems)
    log.info("chat answer guarded: %s", problems)
    if report.words() < _MIN_WORDS:
        return (f"{NO_GOOD_ANSWER_OPENING}: the language model's answer {problems}, so it is not shown. "
                f"The {getattr(llm, 'name', 'configured')} model handles short chats and texts; for more, configure "
                "a larger one (llm.backend: openai with an OpenAI-compatible endpoint, or llm.gguf_path).")
    return f"{report.text}\n\n(Shortened by the answer guard: the language model's answer {problems}.)"
