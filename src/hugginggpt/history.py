"""Resource memory across chat turns: files named in earlier user messages and artifacts cited in answers.

Everything here runs on client-supplied text, so it is linear in the length of that text: no regex that can
backtrack over a long run of word characters (``"y" * 80000`` once took 18 s in a pattern that could).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .artifacts import ArtifactStore
from .media import media_of_name
from .planning.base import KnownResource

# A maximal run of the characters a file name or path is made of. Matching maximal runs is linear (the run can
# only end where the next character is outside the class); the file-name test then looks at each run once.
_RUN = re.compile(r"[\w./~-]+")
_EXT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _file_token(run: str) -> str | None:
    """The file-like token of a run of path characters: up to the last ``.`` that follows at least one character
    and is followed by 2-5 ASCII letters or digits (the extension), or None.

    Same result as ``re.findall(r"[\\w./~-]+\\.[A-Za-z0-9]{2,5}", run)`` (which backtracks quadratically), found
    by scanning the dots from the right: each character is looked at a bounded number of times.
    """
    dot = run.rfind(".")
    while dot >= 1:
        ext = 0
        while ext < 5 and dot + 1 + ext < len(run) and run[dot + 1 + ext] in _EXT_CHARS:
            ext += 1
        if ext >= 2:
            return run[:dot + 1 + ext]
        dot = run.rfind(".", 0, dot)
    return None


def file_tokens(text: str) -> list[str]:
    """Every file-like token of ``text`` (``examples/cat.png``, ``/ws/artifacts/<sha>.wav``), in order."""
    out = []
    for m in _RUN.finditer(text):
        token = _file_token(m.group())
        if token is not None:
            out.append(token)
    return out


def history_chars(history: list[dict[str, Any]]) -> int:
    """Characters of text in a history: message contents and attached file names."""
    return sum(len(str(m.get("content") or "")) + sum(len(str(f)) for f in m.get("files") or []) for m in history)


def check_history(history: list[dict[str, Any]], *, max_turns: int, max_chars: int) -> None:
    """Refuse a history over the configured limits with ``RequestTooLarge`` naming the limit.

    Checked before anything reads the history (path finding, planning, storage), so that one request cannot make
    the agent or the server work in proportion to an unbounded body.
    """
    from .errors import RequestTooLarge

    if len(history) > max_turns:
        raise RequestTooLarge(f"The chat history has {len(history)} earlier messages; the limit is {max_turns} "
                              "(max_history_turns).", hint="Send only the recent turns, or raise max_history_turns.")
    chars = history_chars(history)
    if chars > max_chars:
        raise RequestTooLarge(f"The chat history holds {chars} characters; the limit is {max_chars} "
                              "(max_history_chars).", hint="Send only the recent turns, or raise max_history_chars.")


def recent_history(history: list[dict[str, Any]], *, max_turns: int, max_chars: int) -> list[dict[str, Any]]:
    """The most recent messages of ``history`` that fit both limits (for a stored conversation that has grown past
    them: its latest turns go on working instead of the whole conversation being refused)."""
    kept: list[dict[str, Any]] = []
    chars = 0
    for msg in reversed(history[-max_turns:] if max_turns else []):
        chars += history_chars([msg])
        if chars > max_chars:
            break
        kept.append(msg)
    return kept[::-1]


# A file line of the deterministic answer made by a ControlNet annotator: `1. canny-control with m: image at PATH`.
_CONTROL_LINE = re.compile(r"^\d+\. ([\w-]+-control)(?: with \S+)?: image at (\S+)", re.M)
CONTROL_MAP = "a control map made by "


def known_resources(history: list[dict[str, Any]], store: ArtifactStore) -> list[KnownResource]:
    """Resources mentioned in earlier turns, oldest first, so that the most recent of a type is the last one.

    User messages may name files (``examples/cat.png``); assistant answers cite artifact paths in the store. Text
    outputs cited as ``.txt`` artifacts are skipped: their content is already in the answer text. A control map an
    annotator made (``canny-control``...) is described as one (``CONTROL_MAP``).
    """
    found: list[KnownResource] = []
    seen: set[str] = set()
    for msg in history:
        content = str(msg.get("content") or "")
        maps = dict((path, task) for task, path in _CONTROL_LINE.findall(content)) \
            if msg.get("role") == "assistant" else {}
        for token in file_tokens(content):
            media = media_of_name(token)
            if media is None or token in seen:
                continue
            if msg.get("role") == "assistant" and not store.contains_path(Path(token)):
                continue
            seen.add(token)
            found.append(KnownResource(name=token, media=media, origin="history" if msg.get("role") == "assistant"
                                       else "user", description=CONTROL_MAP + maps[token] if token in maps else ""))
        for path in msg.get("files") or []:
            media = media_of_name(str(path))
            if media and str(path) not in seen:
                seen.add(str(path))
                found.append(KnownResource(name=str(path), media=media, origin="user"))
    return found


def reroute_control_maps(plan: Any, known: list[KnownResource]) -> list[str]:
    """Make every annotator task (``*-control``) of ``plan`` whose image is a control map made earlier work on the
    image that map came from (the latest earlier image that is not a map): an edge map of an edge map, or a pose
    skeleton of an edge map, is never what was asked for. Returns a note per change."""
    notes: list[str] = []
    for task in plan.tasks:
        image = task.args.get("image")
        if not task.task.endswith("-control") or not isinstance(image, str):
            continue
        at = next((i for i, r in enumerate(known) if r.name == image), None)
        if at is None or not known[at].description.startswith(CONTROL_MAP):
            continue
        source = next((r for r in reversed(known[:at]) if r.media == "image"
                       and not r.description.startswith(CONTROL_MAP)), None)
        if source is not None:
            task.args["image"] = source.name
            notes.append(f"task {task.id} ({task.task}): {image} is {known[at].description}; its source image "
                         f"{source.name} is used instead")
    return notes


# A task line of the deterministic answer: `0. image-to-text with some/model: "the text output"`.
_TASK_LINE = re.compile(r'^\d+\. [\w-]+(?: with \S+)?: ', re.M)
_TEXT_RESULT = re.compile(r'^\d+\. [\w-]+(?: with \S+)?: "(.*)"', re.M)
# Answers that hold no text output: a run error ("I could not do that: ...") and the answers to a request nothing
# was made for. Their words are never read aloud or summarized as if a model had written them.
NOT_TEXT_ANSWERS = ("I could not do that:", "Nothing was made for this request", "I have no good answer to that",
                    "No task was recognised in your request, and no task here takes a video")
# Earlier texts to read in one go, at most (a follow-up such as "read all of them aloud").
_MAX_TEXTS = 8


def _cut_sections(content: str) -> str:
    """An answer without the sections after it (files produced, not done, notes): they are not text to work on."""
    from .respond import SECTIONS

    cut = min((i for i in (content.find(s) for s in SECTIONS) if i >= 0), default=len(content))
    return content[:cut].strip()


def _answer_texts(content: str) -> list[str]:
    """The text outputs of one answer, in order: every quoted task output of a deterministic answer, or the whole
    text of any other answer. Empty for an answer that holds no text (templated file answers, errors)."""
    content = content.strip()
    if not content or content.startswith(NOT_TEXT_ANSWERS):
        return []
    quoted = _TEXT_RESULT.findall(content)
    if quoted:
        return [q.removesuffix("...") for q in quoted]
    if _TASK_LINE.search(content):
        return []  # a templated answer whose outputs are files only
    text = _cut_sections(content)
    return [text] if text else []


def text_outputs(history: list[dict[str, Any]], count: int = 1) -> list[str]:
    """The ``count`` most recent text outputs of earlier answers (0: all of them, up to a bound), oldest first."""
    found: list[str] = []
    limit = count or _MAX_TEXTS
    for msg in reversed(history):
        if msg.get("role") != "assistant":
            continue
        for text in reversed(_answer_texts(str(msg.get("content") or ""))):
            if text not in found:
                found.append(text)
            if len(found) >= limit:
                return found[::-1]
    return found[::-1]


def texts_asked(request: str) -> int:
    """How many earlier texts a follow-up means: 1, or 2 for "both", 0 (all) for "all of them" (``guard.yaml``)."""
    from .llm.guard import wording

    table: dict[str, int] = wording().get("several_texts", {})
    for word in re.findall(r"[a-z]+", request.lower()):
        if word in table:
            return int(table[word])
    return 1


def last_text_output(history: list[dict[str, Any]], max_chars: int = 2000) -> str | None:
    """The text the previous answers produced, for "read it aloud"-style follow-ups.

    From the deterministic answer format: the last task's quoted text output. An answer in that format with no
    text output (a speech or image answer) is skipped for the one before it: its template, artifact paths and
    hashes are not text to work on; so is an error answer. From any other (LLM-written) answer: its content without
    the sections after it (files produced, not done, notes). None when no earlier answer has a text.
    """
    texts = text_outputs(history, 1)
    return texts[0][:max_chars] or None if texts else None


def earlier_text(request: str, history: list[dict[str, Any]], max_chars: int = 2000) -> str | None:
    """The earlier text(s) a follow-up works on: the last one, or several joined ("read both descriptions
    aloud" reads the two most recent text outputs, never an error message)."""
    texts = text_outputs(history, texts_asked(request))
    joined = "\n".join(t.rstrip() if t.rstrip()[-1:] in ".!?" else t.rstrip() + "." for t in texts)
    return joined[:max_chars] or None
