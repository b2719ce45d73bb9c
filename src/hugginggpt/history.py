"""Resource memory across chat turns: files named in earlier user messages, and the files and texts earlier
answers produced.

An answer the agent or the server produced is a structured turn (``results.Turn``: its run id, the files the run
made, its text outputs), and those outputs are what memory uses, whatever the answer's wording. Only a turn without
them (a history from another client) is read from its text: file paths found in it, and the quoted outputs of the
deterministic answer format. Everything here runs on client-supplied text, so it is linear in the length of that
text: no regex that can backtrack over a long run of word characters (``"y" * 80000`` once took 18 s in a pattern
that could).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .answer_sections import NO_TEXT_OPENINGS, SECTIONS
from .artifacts import ArtifactStore
from .errors import RequestError, RequestTooLarge
from .guard import wording
from .media import find_paths, media_of_name
from .planning.base import KnownResource
from .planning.limits import clean_text
from .results import Turn


def history_chars(history: list[dict[str, Any]]) -> int:
    """Characters of text in a history: message contents and attached file names (what a client wrote; the outputs
    a structured answer carries are its run's, bounded by what reading them takes: ``text_outputs``)."""
    return sum(len(str(m.get("content") or "")) + sum(len(str(f)) for f in m.get("files") or []) for m in history)


def check_history(history: list[dict[str, Any]], *, max_turns: int, max_chars: int) -> None:
    """Refuse a history over the configured limits with ``RequestTooLarge`` naming the limit.

    Checked before anything reads the history (path finding, planning, storage), so that one request cannot make
    the agent or the server work in proportion to an unbounded body.
    """
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


def turns(history: list[dict[str, Any]]) -> list[Turn]:
    """The history's messages as turns; ``RequestError`` naming the message when one is not a valid turn (a list
    of artifacts that is not one, say)."""
    out = []
    for i, msg in enumerate(history):
        try:
            out.append(Turn.model_validate(msg))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RequestError(f"History message {i} is not a valid chat turn: {where}: {first['msg']}.",
                               hint="Send {'role', 'content'} messages; an answer may add its run_id, artifacts "
                                    "[{'path', 'kind', 'task'}] and texts [str].") from None
    return out


def _named_files(turn: Turn) -> list[tuple[str, str]]:
    """(name, description) of every file a turn names or made: a structured answer's artifacts, else the paths in
    its text."""
    if turn.role == "assistant" and turn.artifacts is not None:
        return [(f.path, CONTROL_MAP + f.task if f.task.endswith("-control") else "") for f in turn.artifacts]
    maps = {path: task for task, path in _CONTROL_LINE.findall(turn.content)} if turn.role == "assistant" else {}
    return [(token, CONTROL_MAP + maps[token] if token in maps else "") for token in find_paths(turn.content)]


def clean_turns(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``history`` with each turn's text cleaned as a request is (``clean_text``: a lone surrogate, which JSON
    allows and UTF-8 cannot encode, becomes U+FFFD), so that it can be stored, shown and sent to an LLM."""
    return [{**turn, "content": clean_text(turn["content"])} if isinstance(turn.get("content"), str) else turn
            for turn in history]


def known_resources(history: list[dict[str, Any]], store: ArtifactStore) -> list[KnownResource]:
    """Resources mentioned in earlier turns, oldest first, so that the most recent of a type is the last one.

    User messages may name files (``examples/cat.png``) or attach them (``files``); an answer's files are its run's
    artifacts (``Turn.artifacts``) or, for an answer without them, the artifact paths it cites, used only when they
    are in the store. Text outputs are not resources: ``text_outputs`` reads them. A control map an annotator made
    (``canny-control``...) is described as one (``CONTROL_MAP``).
    """
    found: list[KnownResource] = []
    seen: set[str] = set()

    def add(name: str, origin: str, description: str = "") -> None:
        media = media_of_name(name)
        if media is not None and name not in seen:
            seen.add(name)
            found.append(KnownResource(name=name, media=media, origin=origin, description=description))

    for turn in turns(history):
        answer = turn.role == "assistant"
        for name, description in _named_files(turn):
            if not answer or (media_of_name(name) is not None and store.contains_path(Path(name))):
                add(name, "history" if answer else "user", description)
        for name in turn.files:
            add(name, "user")
    return found


# A plan note about the files of ``unknown_citations``, and what the answer says of it.
UNUSED_CITATIONS = "not used: "
_UNUSED_TAIL = ", cited by the previous answer but not a file of this workspace"


def unused_citations_note(names: list[str]) -> str:
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return UNUSED_CITATIONS + shown + _UNUSED_TAIL


def unused_citation_sentences(notes: list[str]) -> list[str]:
    """The answer's sentence for a plan note of ``unused_citations_note``."""
    return [f"The previous answer cites {n[len(UNUSED_CITATIONS):].removesuffix(_UNUSED_TAIL)}, but no such file is "
            "in this workspace, so it was not used." for n in notes if n.startswith(UNUSED_CITATIONS)]


def unknown_citations(history: list[dict[str, Any]], store: ArtifactStore) -> list[str]:
    """Media files the latest answer cites that this workspace does not hold and the user never named (an answer
    written elsewhere, an artifact since deleted, an invented path): never used as inputs (``known_resources``), and
    worth saying so, since the request may refer to one of them ("describe it")."""
    all_turns = turns(history)
    answers = [t for t in all_turns if t.role == "assistant"]
    if not answers:
        return []
    named = {name for t in all_turns if t.role != "assistant" for name, _ in _named_files(t)}
    named |= {name for t in all_turns for name in t.files}
    out: list[str] = []
    for name, _ in _named_files(answers[-1]):
        if (media_of_name(name) is not None and name not in named and name not in out
                and not store.contains_path(Path(name))):
            out.append(name)
    return out


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
# Earlier texts to read in one go, at most (a follow-up such as "read all of them aloud").
_MAX_TEXTS = 8


def _cut_sections(content: str) -> str:
    """An answer without the sections after it (files produced, not done, notes): they are not text to work on."""
    cut = min((i for i in (content.find(s) for s in SECTIONS) if i >= 0), default=len(content))
    return content[:cut].strip()


def _answer_texts(content: str) -> list[str]:
    """The text outputs of an answer known only by its text, in order: every quoted task output of a deterministic
    answer, or the whole text of any other answer. Empty for an answer that holds no text (templated file answers,
    errors)."""
    content = content.strip()
    if not content or content.startswith(NO_TEXT_OPENINGS):
        return []
    quoted = _TEXT_RESULT.findall(content)
    if quoted:
        return [q.removesuffix("...") for q in quoted]
    if _TASK_LINE.search(content):
        return []  # a templated answer whose outputs are files only
    text = _cut_sections(content)
    return [text] if text else []


def turn_texts(turn: Turn) -> list[str]:
    """The text outputs of one answer: its run's (``Turn.texts``) when known, else read from its content."""
    return list(turn.texts) if turn.texts is not None else _answer_texts(turn.content)


def text_outputs(history: list[dict[str, Any]], count: int = 1) -> list[str]:
    """The ``count`` most recent text outputs of earlier answers (0: all of them, up to a bound), oldest first.

    An answer whose run produced no text (a speech or image answer, an error) is skipped for the one before it:
    its template, artifact paths and hashes are not text to work on."""
    found: list[str] = []
    limit = count or _MAX_TEXTS
    for turn in reversed(turns(history)):
        if turn.role != "assistant":
            continue
        for text in reversed(turn_texts(turn)):
            if text not in found:
                found.append(text)
            if len(found) >= limit:
                return found[::-1]
    return found[::-1]


def texts_asked(request: str) -> int:
    """How many earlier texts a follow-up means: 1, or 2 for "both", 0 (all) for "all of them" (``guard.yaml``)."""
    table: dict[str, int] = wording().get("several_texts", {})
    for word in re.findall(r"[a-z]+", request.lower()):
        if word in table:
            return int(table[word])
    return 1


def earlier_text(request: str, history: list[dict[str, Any]], max_chars: int = 2000) -> str | None:
    """The earlier text(s) a follow-up works on: the last one, or several joined ("read both descriptions
    aloud" reads the two most recent text outputs, never an error message)."""
    texts = text_outputs(history, texts_asked(request))
    joined = "\n".join(t.rstrip() if t.rstrip()[-1:] in ".!?" else t.rstrip() + "." for t in texts)
    return joined[:max_chars] or None
