"""The hub backends' per-task code, registered under task names.

Each family module (``text_tasks``, ``vision_audio_tasks``, ``diffusion_tasks`` for the local transformers/diffusers
backend; ``hf_calls`` for hosted inference) imports this module and registers each task's code with one line: the
decorator ``@hub_task(name, loader)`` over a runner, or ``@hosted_call(name)`` over a hosted call. ``tasks.py`` imports
the families to fill the tables; nothing here imports them, so there is no import cycle. Task names must be in
``tasks.yaml`` (``tests/test_task_coverage.py`` checks it), except a local task marked ``catalog_only``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..base import ExpertResult

V = TypeVar("V")
Loader = Callable[[Path, "LoadOptions"], Any]
Runner = Callable[[Any, dict[str, Any]], ExpertResult]
HostedCall = Callable[[Any, str, dict[str, Any]], ExpertResult]  # (InferenceClient, model id, inputs)


@dataclass(frozen=True)
class LoadOptions:
    device: str = "cpu"
    dtype: Any = None  # a torch dtype
    max_new_tokens: int = 128
    extra: dict[str, Any] | None = None  # e.g. controlnet_base for ControlNet cards


@dataclass(frozen=True)
class HubTask:
    """One task on the transformers (or diffusers) backend."""

    name: str
    load: Loader
    run: Runner
    library: str = "transformers"  # or "diffusers" (an optional extra)
    note: str = ""
    # Served for user catalog entries only: not in tasks.yaml, so no plan names it (diffusers' scribble ControlNet).
    catalog_only: bool = False


class TaskTable(Mapping[str, V]):
    """Task name → one backend's code for it. Registering a name twice from different code is an error (two family
    modules claiming one task); registering the same code again (a module reload) replaces it."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._entries: dict[str, V] = {}

    def add(self, task: str, entry: V, code: Callable[..., Any]) -> V:
        old = self._entries.get(task)
        if old is not None and _code_name(_code_of(old)) != _code_name(code):
            raise ValueError(f"{self.backend}: task {task!r} is registered twice ({_code_name(_code_of(old))} and "
                             f"{_code_name(code)})")
        self._entries[task] = entry
        return entry

    def __getitem__(self, task: str) -> V:
        return self._entries[task]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TaskTable({self.backend!r}, {sorted(self._entries)})"


def _code_of(entry: Any) -> Callable[..., Any]:
    return entry.run if isinstance(entry, HubTask) else entry


def _code_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


LOCAL: TaskTable[HubTask] = TaskTable("transformers/diffusers")
HOSTED: TaskTable[HostedCall] = TaskTable("hf-inference")


def hub_task(name: str, load: Loader, *, library: str = "transformers", note: str = "",
             catalog_only: bool = False) -> Callable[[Runner], Runner]:
    """Register the decorated runner (state + resolved inputs → ``ExpertResult``) for ``name`` on the local
    backend, with ``load`` (weights directory + options → state)."""

    def register(run: Runner) -> Runner:
        LOCAL.add(name, HubTask(name, load, run, library=library, note=note, catalog_only=catalog_only), run)
        return run

    return register


def hosted_call(*names: str) -> Callable[[HostedCall], HostedCall]:
    """Register the decorated call (``InferenceClient``, model id, resolved inputs → ``ExpertResult``) for each of
    ``names`` on the hosted-inference backend."""

    def register(call: HostedCall) -> HostedCall:
        for name in names:
            HOSTED.add(name, call, call)
        return call

    return register
