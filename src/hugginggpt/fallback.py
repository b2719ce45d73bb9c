"""What to do when the planner finds no task, and what to say about media that were asked for but not made.

A request that names a file or asks for an image, audio or video never ends as chit-chat with an empty plan: a
named image gets a caption and a named audio a transcription (the defaults for those media, said in the answer);
a named video, for which no task here takes a video as input, gets an answer saying what is possible; media asked
for and made by no task are listed, with the reason, in the answer (written by ``respond``, whose
``no_task_answer`` answers an empty plan with these). The wording this reads is in ``guard.yaml``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .answer_sections import VIDEO_ONLY_OPENING
from .guard import wording
from .media import find_paths, media_of_name
from .plan_schema import Plan, TaskSpec
from .planning.base import PlanOutcome

log = logging.getLogger(__name__)

# The default task for a named file of each medium, and the slot it fills.
DEFAULT_TASK = {"image": ("image-to-text", "image", "a caption"),
                "audio": ("automatic-speech-recognition", "audio", "a transcription")}
# The task that would make each medium, for the "not made" note.
MAKER = {"image": "text-to-image", "video": "text-to-video", "audio": "text-to-speech"}
NOTE_PREFIX = "no task detected; default for "


@dataclass(frozen=True)
class NamedFile:
    name: str
    media: str


@lru_cache(maxsize=1)
def _asks() -> tuple[re.Pattern[str], dict[str, re.Pattern[str]], re.Pattern[str], list[re.Pattern[str]]]:
    data = wording()
    verbs = "|".join(re.escape(v) for v in data["request_verbs"])
    articles = "|".join(re.escape(a) for a in sorted(data["request_articles"], key=len, reverse=True))
    verb = re.compile(r"\b(?:" + verbs + r")\b", re.I)
    nouns = {kind: re.compile(r"\b(?:" + articles + r")\s+(?:[\w-]+\s+){0,2}?(?:"
                              + "|".join(re.escape(w) for w in words) + r")\b", re.I)
             for kind, words in data["media_nouns"].items() if kind != "file"}
    audio = re.compile("|".join(f"(?:{p})" for p in data["audio_requests"]), re.I)
    counts = [re.compile(p, re.I) for p in data["count_patterns"]]
    return verb, nouns, audio, counts


def asked_media(request: str) -> list[str]:
    """The media kinds (image, video, audio) that ``request`` asks to be made, in a stable order.

    "show me a joke and an image of cat" asks for an image; "describe this image" does not (no verb of making or
    giving before "a/an ... image"); "dub it" and "read it aloud" ask for audio.
    """
    verb, nouns, audio, _ = _asks()
    found: set[str] = set()
    for sentence in re.split(r"[.!?;\n]+", request):
        v = verb.search(sentence)
        if v is None:
            continue
        rest = sentence[v.start():]
        found |= {kind for kind, pattern in nouns.items() if pattern.search(rest)}
    if audio.search(request):
        found.add("audio")
    return [k for k in ("image", "video", "audio") if k in found]


def counted_label(request: str) -> str | None:
    """The noun a request counts ("how many zebras" -> "zebras"), or None."""
    for pattern in _asks()[3]:
        m = pattern.search(request)
        if m:
            return m.group("label").lower()
    return None


def named_files(request: str, attached: list[Any]) -> list[NamedFile]:
    """Files the request names or attaches (``KnownResource``-like objects with ``name`` and ``media``)."""
    out: dict[str, NamedFile] = {}
    for res in attached:
        out.setdefault(str(res.name), NamedFile(str(res.name), str(res.media)))
    for token in find_paths(request):
        media = media_of_name(token)
        if media is not None:
            out.setdefault(token, NamedFile(token, media))
    return list(out.values())


def default_plan(files: list[NamedFile]) -> tuple[Plan, list[str]] | None:
    """The default tasks for the named files (a caption per image, a transcription per audio) and one note per
    task saying so; None when no named file has a default (videos: no task here takes a video)."""
    tasks: list[TaskSpec] = []
    notes: list[str] = []
    for f in files:
        if f.media not in DEFAULT_TASK:
            continue
        task, slot, what = DEFAULT_TASK[f.media]
        tasks.append(TaskSpec(task=task, id=len(tasks), dep=[-1], args={slot: f.name}))
        notes.append(f"{NOTE_PREFIX}{f.media} {f.name}: {what} ({task})")
    return (Plan(tasks=tasks), notes) if tasks else None


def fallback_sentences(notes: list[str]) -> list[str]:
    """The answer's sentences for the default-task notes among a run's plan notes."""
    out = []
    for note in notes:
        if note.startswith(COUNT_PREFIX):
            label, image = note[len(COUNT_PREFIX):].split(" in ", 1)
            out.append(f"Your request was read as a count of {label} in {image}, the latest image of this "
                       "conversation, so it ran object detection on it.")
        if note.startswith(NOTE_PREFIX):
            media_name, what = note[len(NOTE_PREFIX):].split(": ", 1)
            media, name = media_name.split(" ", 1)
            out.append(f"No task was recognised in your request, so the {media} {name} got the default for "
                       f"{'an' if media[0] in 'aeiou' else 'a'} {media}: {what}.")
    return out


def video_only_answer(files: list[NamedFile]) -> str:
    """The answer for a request that names only videos and asks for nothing that could be done."""
    names = ", ".join(f.name for f in files if f.media == "video")
    return (f"{VIDEO_ONLY_OPENING} as input, so {names} was not "
            "processed. What is possible with videos: making one from a text (text-to-video, through a hub model). "
            "For a video's sound or frames, attach them as an audio file or images: audio can be transcribed or "
            "classified, images described, classified, segmented or searched for faces and people.")


def not_made_lines(request: str, made: set[str], planned: set[str]) -> list[str]:
    """One line per medium ``request`` asks for that no artifact holds and no planned task makes (``planned``:
    the output kinds of the plan's tasks; a planned task that failed is reported with its own error)."""
    lines = []
    for kind in asked_media(request):
        if kind in made or kind in planned:
            continue
        lines.append(f"- {_NAMED[kind]}: no task that makes {'it' if kind == 'audio' else 'one'} ({MAKER[kind]}) was "
                     "recognised in the request. Ask for it in its own words, e.g. "
                     f"\"{_EXAMPLE[kind]}\".")
    return lines


_NAMED = {"image": "an image", "video": "a video", "audio": "audio"}
_EXAMPLE = {"image": "generate an image of a cat", "video": "generate a video of a dog running on the grass",
            "audio": "read this aloud: 'your text'"}


def count_plan(request: str, earlier: list[Any]) -> tuple[Plan, list[str]] | None:
    """A count ("how many people are there?") with no file named: object detection on the conversation's most
    recent image, or None when the request counts nothing or no image is known."""
    label = counted_label(request)
    images = [r for r in earlier if r.media == "image"]
    if label is None or not images:
        return None
    image = str(images[-1].name)
    task = TaskSpec(task="object-detection", id=0, dep=[-1], args={"image": image})
    return Plan(tasks=[task]), [f"{COUNT_PREFIX}{label} in {image}"]


COUNT_PREFIX = "no task detected; a count is object detection: "


def media_default(outcome: Any, request: str, attached: list[Any], earlier: Sequence[Any] = ()) -> Any:
    """``outcome`` (a ``PlanOutcome`` with no tasks) with the default tasks for the files the request names or
    attaches (or, for a count, detection on the conversation's latest image: ``earlier`` are the resources of
    earlier turns), and notes saying so; unchanged when there are none."""
    named = named_files(request, attached)
    found = default_plan(named) if named else count_plan(request, list(earlier))
    if found is None:
        return outcome
    plan, notes = found
    kept = [n for n in outcome.notes if not n.startswith("no task detected")]  # no longer left to the LLM
    return PlanOutcome(plan=plan, planner=outcome.planner, notes=kept + notes, raw=outcome.raw)
