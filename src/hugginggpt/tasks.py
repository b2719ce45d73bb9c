"""The task registry: task names, typed input slots and output types (JARVIS's 35 tasks and a few more)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from .errors import UnknownTaskError

MediaType = Literal["text", "image", "audio", "video"]
MEDIA_TYPES: tuple[MediaType, ...] = ("text", "image", "audio", "video")


class Slot(BaseModel):
    """One named input of a task, e.g. ``image: image`` or ``context: text``."""

    name: str
    type: MediaType
    required: bool = True


class TaskType(BaseModel):
    """A task the planner can use and the experts can serve."""

    name: str
    description: str
    inputs: list[Slot]
    outputs: list[MediaType]
    llm: bool = Field(False, description="The controller LLM can do this task itself.")
    taskbench: list[str] = Field(default_factory=list)

    def slot(self, name: str) -> Slot | None:
        return next((s for s in self.inputs if s.name == name), None)

    def slots_of_type(self, media: str) -> list[Slot]:
        return [s for s in self.inputs if s.type == media]

    @property
    def required_slots(self) -> list[Slot]:
        return [s for s in self.inputs if s.required]

    def signature(self) -> str:
        ins = ", ".join(f"{s.name}: {s.type}{'' if s.required else '?'}" for s in self.inputs)
        return f"{self.name}({ins}) -> {' + '.join(self.outputs)}"


def _parse(name: str, raw: dict) -> TaskType:
    slots = []
    for slot_name, spec in raw["inputs"].items():
        optional = spec.endswith("?")
        slots.append(Slot(name=slot_name, type=spec.rstrip("?"), required=not optional))
    return TaskType(
        name=name,
        description=raw["description"],
        inputs=slots,
        outputs=raw["outputs"],
        llm=raw.get("llm", False),
        taskbench=raw.get("taskbench", []),
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


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@lru_cache(maxsize=1)
def default_registry() -> TaskRegistry:
    text = resources.files("hugginggpt").joinpath("tasks.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    return TaskRegistry([_parse(name, spec) for name, spec in raw.items()])
