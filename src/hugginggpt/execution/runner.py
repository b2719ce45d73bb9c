"""Stage 3 for one task: bind its inputs, call its expert through an :class:`Executor`, store what came back.

The scheduler decides *when* a task runs; :class:`TaskRunner` decides *what* running it means:

1. **bind**: each slot's value becomes text or a :class:`MediaInput` (an upstream task's artifact for
   ``<GENERATED>-k``, a resolved user file or URL otherwise);
2. **call**: an :class:`ExpertCall` (plain data) goes to the executor, which runs it in a worker thread of this
   process (:class:`ThreadExecutor`) or elsewhere (Ray, see ``execution/engine.py``) and returns checked outputs;
3. **store**: outputs become artifacts of the content-addressed store, with their provenance.

A task whose model could not be selected is an ordinary failed :class:`TaskResult`; nothing is raised for it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from opentelemetry import trace

from ..artifacts import Artifact, ArtifactStore
from ..backends.base import Backend
from ..catalog.cards import ModelCard
from ..errors import ExpertInputError, ExpertUnavailable, HuggingGPTError
from ..experts.pool import ExpertPool
from ..observability.spans import input_attributes
from ..plan_schema import TaskSpec, ref_id
from ..results import ErrorInfo, ModelChoice, TaskResult
from ..tasks import TaskRegistry
from .calls import Executor, ExpertCall, ExpertReply, MediaInput
from .outputs import run_checked

tracer = trace.get_tracer("hugginggpt")

# Resolves a literal slot value (a user file, a URL, a store path) of the given media into an artifact.
ResolveFn = Callable[[str, str], Awaitable[Artifact]]


class ThreadExecutor:
    """Expert calls in worker threads of this process: per model, a small pool of daemon threads (workers.py).

    A call that outlives its timeout cannot be stopped, only abandoned (counted as stuck until it ends); use the Ray
    engine where a hung or crashing model must be killed.
    """

    name = "threads"

    def __init__(self, pool: ExpertPool, backends: Mapping[str, Backend],
                 card: Callable[[str, str], ModelCard | None]) -> None:
        self.pool = pool
        self.backends = backends
        self.card = card

    async def call(self, call: ExpertCall) -> ExpertReply:
        backend = self.backends[call.backend]
        card = self.card(call.model_id, call.task)
        if card is None:
            raise ExpertUnavailable(f"{call.model_id} is not in the catalog.", hint="hugginggpt models lists it.")
        inputs = call.local_inputs()

        # Checked off the event loop, in the model's own daemon threads (a hung model blocks only itself): nothing
        # unchecked is stored, fed to a dependant or cited; whatever escapes is named. The current context goes
        # along, so spans opened in the thread (LLM calls) join the task's span.
        run = partial(run_checked, self.pool, backend, card, call.request, inputs)
        outputs, facts = await self.pool.workers.call(call.model_id, partial(contextvars.copy_context().run, run))
        return ExpertReply(outputs=outputs, facts=facts, worker="thread")

    def close(self) -> None:
        """Nothing to release: the threads are daemons that exit when idle."""


class TaskRunner:
    """Runs one task of a run (the scheduler's ``run_task``)."""

    def __init__(self, *, registry: TaskRegistry, store: ArtifactStore, executor: Executor, resolve: ResolveFn,
                 choices: Mapping[int, ModelChoice | HuggingGPTError], request: str = "", run_id: str = "") -> None:
        self.registry = registry
        self.store = store
        self.executor = executor
        self.resolve = resolve
        self.choices = choices
        self.request = request
        self.run_id = run_id

    async def __call__(self, spec: TaskSpec, upstream: Mapping[int, TaskResult]) -> TaskResult:
        choice = self.choices.get(spec.id)
        if not isinstance(choice, ModelChoice):
            exc = choice if isinstance(choice, HuggingGPTError) else ExpertInputError(
                f"Task {spec.id} ({spec.task}) has no selected model.")
            return TaskResult(task=spec, status="failed", error=ErrorInfo.from_exc(exc))
        inputs, shown = await self.bind(spec, upstream)
        call = ExpertCall(task_id=spec.id, task=spec.task, model_id=choice.model_id, backend=choice.backend,
                          inputs=inputs, request=self.request, run_id=self.run_id)
        with tracer.start_as_current_span("hugginggpt.expert", attributes={
                "hugginggpt.model_id": choice.model_id, "hugginggpt.backend": choice.backend,
                "hugginggpt.executor": getattr(self.executor, "name", "")}) as span:
            if span.is_recording():  # inputs by kind, SHA-256 and size (outputs: on the task span)
                span.set_attributes(input_attributes(inputs))
            try:
                reply = await self.executor.call(call)
            except HuggingGPTError as exc:
                _name_user_files(exc, {shown[slot]: value for slot, value in spec.args.items()
                                       if isinstance(inputs.get(slot), MediaInput) and ref_id(value) is None})
                raise
        outputs = self.store_outputs(spec.id, choice.model_id, reply, shown)
        return TaskResult(task=spec, status="ok", choice=choice, outputs=outputs, data=reply.facts, inputs=shown,
                          cached=reply.cached)

    async def bind(self, spec: TaskSpec, upstream: Mapping[int, TaskResult]
                   ) -> tuple[dict[str, str | MediaInput], dict[str, str]]:
        """Each slot's value as text or media, and how it is shown in provenance (text cut to 200 characters)."""
        task_type = self.registry.get(spec.task)
        inputs: dict[str, str | MediaInput] = {}
        shown: dict[str, str] = {}
        for slot_name, value in spec.args.items():
            slot = task_type.slot(slot_name)
            media = slot.type if slot else "text"
            k = ref_id(value)
            if k is not None:
                art = upstream[k].output_of(media)
                if art is None:
                    raise ExpertInputError(f"Task {k} produced no {media} output for slot {slot_name!r}.")
            elif media == "text":
                inputs[slot_name], shown[slot_name] = value, value[:200]
                continue
            else:
                art = await self.resolve(value, media)
            if media == "text":
                inputs[slot_name] = art.text or ""
                shown[slot_name] = (art.text or "")[:200]
            else:
                inputs[slot_name] = MediaInput(kind=media, path=art.path, sha256=art.sha256)
                shown[slot_name] = str(art.path)
        return inputs, shown

    def store_outputs(self, task_id: int, model_id: str, reply: ExpertReply, shown: dict[str, str]) -> list[Artifact]:
        outputs: list[Artifact] = []
        for out in reply.outputs:
            prov: dict[str, Any] = {"task_id": task_id, "model_id": model_id, "inputs": shown}
            if out.kind == "text":
                outputs.append(self.store.put_text(out.text or "", **prov))
            else:
                outputs.append(self.store.put_bytes(out.data or b"", out.kind, ext=out.ext, **prov))
        return outputs


def _name_user_files(exc: HuggingGPTError, copies: Mapping[str, str]) -> None:
    """Say, in an expert's error, the name the user gave each input file (``trunc.wav``) instead of the name of the
    content-addressed copy the expert read (``2e80ce5f...6110.wav``): with several inputs, the user must be able to
    tell which one is broken. ``copies``: the copy's path -> the user's name."""
    for path, name in copies.items():
        for copy in (path, Path(path).name):  # the whole path first, then the bare file name
            exc.message = exc.message.replace(copy, name)
            exc.hint = exc.hint.replace(copy, name) if exc.hint else exc.hint
    exc.args = (f"{exc.message} {exc.hint}" if exc.hint else exc.message,)
