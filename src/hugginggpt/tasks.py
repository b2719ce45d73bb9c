"""The task registry: task names, typed input slots and output types (JARVIS's 35 tasks and a few more).

``tasks.yaml`` is the one table of a task's facts; every other table that names tasks (the backends' per-task code,
the LLM prompts, the planner's lexicon) derives from it or is checked against it (``tests/test_task_coverage.py``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, Field, model_validator

from .errors import UnknownTaskError

MediaType = Literal["text", "image", "audio", "video"]
MEDIA_TYPES: tuple[MediaType, ...] = ("text", "image", "audio", "video")
# The response a JARVIS models server gives for a task (``experts/hub/wire.jarvis_shape``): ``boxes`` the detector's
# objects, ``labels`` a ranked label list, ``entities`` the token labels, ``answers`` a ranked answer list, ``answer``
# one extractive answer with its span, ``text`` a transcription; the rest answer ``{"path": ...}`` when they made
# media (``media``) and ``{"generated text": ...}`` otherwise (``generated_text``).
JarvisShape = Literal["boxes", "labels", "entities", "answers", "answer", "text", "media", "generated_text"]
JARVIS_SHAPES: tuple[str, ...] = get_args(JarvisShape)
LLM_MODEL = "llm"  # in ``offline``: the controller LLM (the packaged small one unless another is configured)


class Slot(BaseModel):
    """One named input of a task, e.g. ``image: image`` or ``context: text``."""

    name: str
    type: MediaType
    required: bool = True


class TaskType(BaseModel):
    """A task the planner can use and the experts can serve, with the facts every other table derives from."""

    name: str
    description: str
    inputs: list[Slot]
    outputs: list[MediaType]
    llm: bool = Field(False, description="The controller LLM can do this task itself.")
    taskbench: list[str] = Field(default_factory=list)
    verdict: bool = Field(False, description="Its text output is a verdict (a label, a score, a vector), not a text "
                                             "to work on further.")
    controlled_by: str | None = Field(None, description="For a ControlNet generator: the task that makes its "
                                                        "condition map from an image.")
    jarvis: JarvisShape = Field("generated_text", description="The JARVIS response shape; by default media when "
                                                               "it outputs media, else generated_text.")
    offline: list[str] = Field(default_factory=list, description="Model ids that serve it with no network: "
                                                                 "embedded experts, and `llm` for the controller LLM.")
    offline_reason: str | None = Field(None, description="Why nothing serves it offline (when `offline` is empty).")
    no_transformers: str | None = Field(None, description="Why the transformers/diffusers backend has no code "
                                                          "path for it (its catalog models are another library's).")

    @model_validator(mode="before")
    @classmethod
    def _default_shape(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("jarvis") is None:
            media = any(o != "text" for o in data.get("outputs") or [])
            data = {**data, "jarvis": "media" if media else "generated_text"}
        return data

    def slot(self, name: str) -> Slot | None:
        return next((s for s in self.inputs if s.name == name), None)

    def slots_of_type(self, media: str) -> list[Slot]:
        return [s for s in self.inputs if s.type == media]

    @property
    def required_slots(self) -> list[Slot]:
        return [s for s in self.inputs if s.required]

    def signature(self) -> str:
        """``name(slot, slot: type?) -> output``: a slot's type is left out where it is the slot's name; ``?`` marks
        an optional slot."""
        ins = ", ".join(f"{s.name}{'' if s.name == s.type else f': {s.type}'}{'' if s.required else '?'}"
                        for s in self.inputs)
        return f"{self.name}({ins}) -> {' + '.join(self.outputs)}"


def _reason(raw: dict[str, Any], key: str, name: str) -> tuple[Any, str | None]:
    """``key: [..]`` or ``key: {none: "why"}`` → (value, reason)."""
    value = raw.get(key)
    if isinstance(value, dict):
        if set(value) != {"none"} or not str(value["none"]).strip():
            raise ValueError(f"tasks.yaml: {name}.{key} must be a list or {{none: <reason>}}, got {value!r}")
        return None, str(value["none"])
    return value, None


def _parse(name: str, raw: dict[str, Any]) -> TaskType:
    slots = []
    for slot_name, spec in raw["inputs"].items():
        optional = spec.endswith("?")
        slots.append(Slot(name=slot_name, type=spec.rstrip("?"), required=not optional))
    offline, offline_reason = _reason(raw, "offline", name)
    if not offline and offline_reason is None:
        raise ValueError(f"tasks.yaml: {name} must say what serves it offline (offline: [model ids]) or why nothing "
                         "does (offline: {none: <reason>})")
    _, no_transformers = _reason(raw, "transformers", name)
    return TaskType(
        name=name,
        description=raw["description"],
        inputs=slots,
        outputs=raw["outputs"],
        llm=raw.get("llm", False),
        taskbench=raw.get("taskbench", []),
        verdict=raw.get("verdict", False),
        controlled_by=raw.get("controlled_by"),
        jarvis=raw.get("jarvis"),
        offline=offline or [],
        offline_reason=offline_reason,
        no_transformers=no_transformers,
    )


class TaskRegistry:
    """Lookup of task types by name, with the TaskBench name mapping."""

    def __init__(self, tasks: list[TaskType]) -> None:
        self._tasks = {t.name: t for t in tasks}
        self._aliases: dict[str, str] = {}
        for t in tasks:
            for alias in [t.name, *t.taskbench]:
                self._aliases[_norm(alias)] = t.name

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._tasks

    def __iter__(self):
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def names(self) -> list[str]:
        return list(self._tasks)

    def get(self, name: str) -> TaskType:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTaskError(
                f"Unknown task {name!r}.",
                hint=f"Use one of: {', '.join(self._tasks)} (see `hugginggpt tasks`).",
            ) from None

    def canonical(self, name: str) -> str | None:
        """Map a task name in any spelling (``Image-to-Text``, ``image_to_text``, TaskBench names) to ours."""
        return self._aliases.get(_norm(name))

    def suggest(self, name: str) -> list[str]:
        import difflib

        return difflib.get_close_matches(name, self.names, n=3, cutoff=0.5)

    def controlled(self) -> dict[str, str]:
        """Condition-map task → the ControlNet generator it conditions (``controlled_by``, read the other way)."""
        return {t.controlled_by: t.name for t in self._tasks.values() if t.controlled_by}

    def verdicts(self) -> frozenset[str]:
        """The tasks whose text output is a verdict rather than a text to work on."""
        return frozenset(t.name for t in self._tasks.values() if t.verdict)


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@lru_cache(maxsize=1)
def default_registry() -> TaskRegistry:
    text = resources.files("hugginggpt").joinpath("tasks.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    return TaskRegistry([_parse(name, spec) for name, spec in raw.items()])
