"""``HuggingGPT``: wires the four stages (plan, select, execute, respond) and nothing else."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from opentelemetry import trace

from . import progress
from .answer_sections import ERROR_OPENING
from .artifacts import Artifact, ArtifactStore
from .backends.base import Backend
from .backends.embedded import EmbeddedBackend
from .backends.http import HTTPBackend
from .backends.llm import LLMBackend
from .backends.modes import arrange, build_hub_backends
from .catalog.cards import Catalog, ModelCard
from .catalog.selector import Selector
from .catalog.sync import build_catalog
from .config import HuggingGPTConfig
from .costs import llm_model_name
from .errors import (
    ConfigError,
    HuggingGPTError,
    InternalError,
    PlanError,
    RequestError,
    ResourceError,
)
from .execution.engine import make_executor
from .execution.runner import TaskRunner
from .execution.scheduler import Scheduler
from .experts.pool import ExpertPool
from .fallback import media_default
from .history import (
    check_history,
    clean_turns,
    earlier_text,
    known_resources,
    reroute_control_maps,
    unknown_citations,
    unused_citations_note,
)
from .imaging import set_max_image_pixels, set_max_image_side
from .llm.base import LLM, Usage
from .llm.tracking import TrackedLLM
from .plan_schema import Plan
from .planning.base import KnownResource, PlanContext, Planner, PlanOutcome
from .planning.limits import check_plan_size, check_request, clean_text
from .resources import ResourceResolver, sniff_media
from .respond import Responder, is_dropped_note, no_task_answer
from .results import ErrorInfo, Event, ModelChoice, RunResult, progress_event
from .tasks import default_registry

log = logging.getLogger(__name__)
tracer = trace.get_tracer("hugginggpt")

_EARLIER = "EARLIER_OUTPUT"


class HuggingGPT:
    """The controller. ``run`` for one request, ``astream`` for events as they happen, ``chat`` for multi-turn."""

    def __init__(self, config: HuggingGPTConfig | None = None, *, llm: LLM | None = None,
                 planner: Planner | None = None, base_dir: Path | None = None) -> None:
        self.config = config or HuggingGPTConfig()
        self.registry = default_registry()
        self.base_dir = Path(base_dir or Path.cwd()).resolve()
        self._llm = llm
        self._planner = planner
        self._offline_planner: Planner | None = None
        self.pool = ExpertPool(self.config.memory_budget_mb)
        self.store = ArtifactStore(self.config.workspace_path)
        set_max_image_pixels(self.config.max_image_pixels)  # also the experts' own image loading
        set_max_image_side(self.config.max_image_side)
        self._catalog: Catalog | None = None
        self._hub: dict[str, Backend] | None = None  # transformers / hf-inference / http backends, built on first use
        self._engine_state: dict[str, Any] = {}  # what an execution engine keeps across runs (e.g. Ray actors)

    # ----- components -------------------------------------------------------------------------------------------
    @property
    def llm(self) -> LLM:
        """The controller LLM (built on first use; the embedded model loads on its first call)."""
        if self._llm is None:
            from .llm.factory import build_llm

            self._llm = build_llm(self.config.llm)
        return self._llm

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = build_catalog(self.config, extra=LLMBackend(self.llm).cards(), remote=self._served_cards())
        return self._catalog

    def _served_cards(self) -> list[ModelCard]:
        """The models the configured model servers host (what the ``http`` backend lists)."""
        http = self.hub_backends()["http"]
        return http.cards() if isinstance(http, HTTPBackend) else []

    def hub_backends(self) -> dict[str, Backend]:
        """The hub backends by name (nothing is loaded or contacted when they are built)."""
        if self._hub is None:
            self._hub = build_hub_backends(self.config, self.pool)
        return self._hub

    def backends(self, llm: LLM | None = None) -> list[Backend]:
        """Backends in order of preference for ``inference_mode`` (see backends/modes.py)."""
        return arrange(self.config.inference_mode, self.hub_backends(), EmbeddedBackend(self.pool),
                       LLMBackend(llm or self.llm))

    def planner(self, llm: LLM | None = None) -> Planner:
        if self._planner is not None:
            return self._planner
        llm = llm or self.llm
        mode = self.config.planner
        if mode == "auto":
            mode = "llm" if llm.capable else "offline"
        if mode in ("llm", "hybrid") and not llm.capable:
            raise ConfigError(
                f"planner: {mode} needs a capable LLM, but {llm.name} is marked as not capable of planning.",
                hint="Use planner: offline (the default), configure an OpenAI-compatible endpoint, or set "
                     "llm.capable: true for a large enough GGUF.")
        if mode in ("offline", "hybrid"):
            if self._offline_planner is None:
                from .planning.offline_planner import OfflinePlanner

                self._offline_planner = OfflinePlanner(self.registry)
            if mode == "offline":
                return self._offline_planner
            from .planning.hybrid_planner import HybridPlanner

            planner: Planner = HybridPlanner(llm, self.registry, offline=self._offline_planner)
        else:
            from .planning.llm_planner import LLMPlanner

            planner = LLMPlanner(llm, self.registry, shortlist=self.config.plan_shortlist)
        from .planning.plan_cache import cached_planner  # an LLM plan is reused for the same request and files

        return cached_planner(planner, llm, self.config, self._engine_state, self.base_dir, self.registry)

    # ----- public API -------------------------------------------------------------------------------------------
    def run(self, request: str, files: Sequence[str | Path] = (), history: list[dict[str, Any]] | None = None,
            on_event: Callable[[Event], None] | None = None, run_id: str | None = None) -> RunResult:
        """Run one request end to end (blocking). ``run_id``: the id the caller records the run under (the run
        history, the server), also put on the run's trace; a new one by default."""
        return asyncio.run(self.arun(request, files=files, history=history, on_event=on_event, run_id=run_id))

    def chat(self, history: list[dict[str, Any]], files: Sequence[str | Path] = (),
             run_id: str | None = None) -> RunResult:
        """Answer the last user message of an OpenAI-style history. Files mentioned or produced in earlier turns
        (answers cite real artifact paths) stay usable: "now read it aloud" refers to the last output."""
        if not history or history[-1].get("role") != "user":
            raise RequestError("chat() needs a history whose last message is from the user.")
        return self.run(str(history[-1].get("content", "")), files=files, history=history[:-1], run_id=run_id)

    async def astream(self, request: str, files: Sequence[str | Path] = (),
                      history: list[dict[str, Any]] | None = None) -> AsyncIterator[Event]:
        """Yield stage and task events as they happen; the last event (kind ``answer``) carries the RunResult."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def put(event: Event) -> None:  # progress events come from worker threads
            try:
                here = asyncio.get_running_loop() is loop
            except RuntimeError:
                here = False
            if here:
                queue.put_nowait(event)
            else:
                loop.call_soon_threadsafe(queue.put_nowait, event)

        async def runner() -> RunResult:
            try:
                return await self.arun(request, files=files, history=history, on_event=put)
            finally:
                queue.put_nowait(None)

        job = asyncio.create_task(runner())
        while (event := await queue.get()) is not None:
            yield event
        result = await job
        yield Event(kind="answer", stage="done", status=result.status,
                    message=result.answer, data={"run": result.model_dump(mode="json")})

    async def arun(self, request: str, files: Sequence[str | Path] = (), history: list[dict[str, Any]] | None = None,
                   on_event: Callable[[Event], None] | None = None, run_id: str | None = None) -> RunResult:
        emit = on_event or (lambda e: None)
        request, history = clean_text(request), clean_turns(history or [])
        run = RunResult(run_id=run_id or uuid.uuid4().hex[:12], request=request)
        usage = Usage()
        t_all = time.perf_counter()
        try:
            with (tracer.start_as_current_span("hugginggpt.run", attributes={"hugginggpt.run_id": run.run_id}) as span,
                  progress.for_run(lambda update: emit(progress_event(update)))):  # slow loads, speech chunk i/n
                await self._arun(run, request, list(files), history, emit, usage)
                span.set_attribute("hugginggpt.run.status", run.status)
        except HuggingGPTError as exc:
            self._fail(run, exc, emit)
        except Exception as exc:  # no exception leaves arun unnamed; the run is kept and reported
            log.exception("run %s: unexpected %s", run.run_id, type(exc).__name__)
            self._fail(run, InternalError(
                f"Internal error ({type(exc).__name__}: {str(exc)[:300] or 'no message'}).",
                hint="This is a bug in hugginggpt or one of its models; the run was recorded with this error."), emit)
        run.timings["total"] = round(time.perf_counter() - t_all, 4)
        run.usage = {**usage.to_dict(), "model": llm_model_name(self._llm)}  # the name costs are priced under
        return run

    @staticmethod
    def _fail(run: RunResult, exc: HuggingGPTError, emit: Callable[[Event], None]) -> None:
        run.error = ErrorInfo.from_exc(exc)
        run.answer = f"{ERROR_OPENING} {exc.message}" + (f" {exc.hint}" if exc.hint else "")
        try:
            emit(Event(kind="error", status="failed", message=run.answer, data=run.error.model_dump()))
        except Exception:  # a failing listener must not lose the run
            log.exception("run %s: event listener failed", run.run_id)

    # ----- the four stages --------------------------------------------------------------------------------------
    @contextmanager
    def _stage(self, run: RunResult, name: str, emit: Callable[[Event], None]) -> Iterator[dict[str, Any]]:
        """One stage: its span, its running/done events and its time in ``run.timings``. What the block puts in the
        yielded dict goes on the done event."""
        done: dict[str, Any] = {}
        with tracer.start_as_current_span(f"hugginggpt.stage.{name}"):
            emit(Event(kind="stage", stage=name, status="running"))
            t0 = time.perf_counter()
            yield done
            run.timings[name] = round(time.perf_counter() - t0, 4)
            emit(Event(kind="stage", stage=name, status="done", data=done))

    async def _arun(self, run: RunResult, request: str, files: list[str | Path], history: list[dict[str, Any]],
                    emit: Callable[[Event], None], usage: Usage) -> None:
        deadline = time.monotonic() + self.config.run_timeout  # every task ends by then (the execute stage)
        # Off the event loop, which serves other runs: files are sniffed and the history parsed (linear but
        # proportional to its size).
        request, resolver, known = await asyncio.to_thread(self._prepare, request, files, history)
        llm = TrackedLLM(self.llm, usage)

        with self._stage(run, "plan", emit) as done:
            outcome = await asyncio.to_thread(self._plan, self.planner(llm), request, known, len(files), history)
            run.plan, run.planner, run.plan_notes = outcome.plan.tasks, outcome.planner, outcome.notes
            done.update(plan=outcome.plan.to_jarvis(), planner=outcome.planner,
                        left_out=[n for n in outcome.notes if is_dropped_note(n)])
        if not outcome.plan.tasks:
            run.answer = await asyncio.to_thread(no_task_answer, llm, run, history, known[:len(files)])
            return

        with self._stage(run, "select", emit) as done:
            backends = self.backends(llm)
            selector = Selector(self.catalog, backends, llm=llm, top_k=self.config.selector_top_k,
                                overrides=self.config.overrides, choice=self.config.model_choice)
            choices = await asyncio.to_thread(selector.select, outcome.plan, request)
            done["choices"] = {tid: (c.model_dump() if isinstance(c, ModelChoice)
                                     else ErrorInfo.from_exc(c).model_dump()) for tid, c in choices.items()}

        with self._stage(run, "execute", emit):
            executor = make_executor(self.config, self.pool, {b.name: b for b in backends}, self.catalog,
                                     self._engine_state)

            async def resolve(value: str, media: str) -> Artifact:
                return await self.pool.workers.run("inputs", partial(resolver.resolve, value, media, task_id=None))

            runner = TaskRunner(registry=self.registry, store=self.store, executor=executor, resolve=resolve,
                                choices=choices, request=request, run_id=run.run_id)
            scheduler = Scheduler(runner, max_parallel=self.config.max_parallel,
                                  task_timeout=self.config.task_timeout, emit=emit, deadline=deadline, choices=choices)
            try:
                run.results = await scheduler.run(outcome.plan)
            finally:
                executor.close()

        with self._stage(run, "respond", emit):
            run.answer = await asyncio.to_thread(Responder(llm).answer, run)

    def _prepare(self, request: str, files: Sequence[str | Path], history: list[dict[str, Any]]
                 ) -> tuple[str, ResourceResolver, list[KnownResource]]:
        """Checks before planning (the request, the files it names, the history) and the resources a plan may use:
        the user's files, then the earlier turns' files and outputs. Blocking: files are read, the history parsed."""
        request = check_request(request, self.config.max_request_chars)
        resolver = self._resolver(files)
        user_files = [resolver.check_user_file(Path(f)) for f in files]
        resolver.check_request_paths(request)  # "describe /etc/shadow": refused, never answered from nothing
        known = [self._known_user_file(f, orig) for f, orig in zip(user_files, files, strict=True)]
        check_history(history, max_turns=self.config.max_history_turns, max_chars=self.config.max_history_chars)
        known += known_resources(history, self.store)
        return request, resolver, known

    def _plan(self, planner: Planner, request: str, known: list[KnownResource], n_files: int,
              history: list[dict[str, Any]]) -> PlanOutcome:
        """Stage 1, as ``run`` and ``plan_only`` both do it (blocking)."""
        context = PlanContext(registry=self.registry, files=known, history=history,
                              max_tasks=self.config.max_plan_tasks)
        outcome = _plan_with_memory(planner, request, context)
        check_plan_size(outcome.plan, self.config.max_plan_tasks)  # any planner, a custom one included
        if not outcome.plan.tasks:  # a named image or audio gets its default task, never an empty plan
            outcome = media_default(outcome, request, known[:n_files], known[n_files:])
        outcome.notes += reroute_control_maps(outcome.plan, known)  # a control map is not annotated again
        missing = unknown_citations(history, self.store)  # "describe it" after an answer citing no real file
        if missing:
            outcome.notes.append(unused_citations_note(missing))
        return outcome

    # ----- helpers ----------------------------------------------------------------------------------------------
    def _resolver(self, files: Sequence[str | Path]) -> ResourceResolver:
        allowed = self.config.allowed_dirs or [self.base_dir]
        return ResourceResolver(self.store, base_dir=self.base_dir, allowed_dirs=[*allowed, self.store.root],
                                user_files=[Path(f).expanduser() for f in files], allow_urls=self.config.allow_urls,
                                allow_private_urls=self.config.allow_private_urls,
                                max_download_mb=self.config.max_download_mb, max_input_mb=self.config.max_input_mb,
                                max_image_pixels=self.config.max_image_pixels,
                                download_deadline=self.config.download_deadline)

    def _known_user_file(self, path: Path, original: str | Path) -> KnownResource:
        media = sniff_media(path)
        if media is None:
            raise ResourceError(f"{str(original)!r} is not an image, audio or video file this system can read.",
                                hint="Attach PNG/JPEG/GIF/BMP/WEBP images, WAV/MP3/FLAC/OGG audio or MP4/WEBM video.")
        return KnownResource(name=str(original), media=media, origin="user")


def _plan_with_memory(planner: Planner, request: str, context: PlanContext) -> PlanOutcome:
    """Plan; when the request lacks a text to work on ("now read it aloud"), use the previous answer's output."""
    try:
        return planner.plan(request, context)
    except PlanError as exc:
        earlier = earlier_text(request, context.history) if exc.media == "text" else None
        if earlier is None:
            raise
    # Plan with a neutral quoted stand-in (the earlier text's own words must not steer task detection), then put the
    # earlier text where the stand-in landed.
    outcome = planner.plan(f'{request}: "{_EARLIER}"', context)
    for task in outcome.plan.tasks:
        task.args = {k: earlier if _EARLIER in v else v for k, v in task.args.items()}
    outcome.notes.append("the text to work on is the previous answer's output")
    return outcome


def plan_only(agent: HuggingGPT, request: str, files: Sequence[str | Path] = (),
              history: list[dict[str, Any]] | None = None) -> Plan:
    """Stage 1 alone (the server's ``/tasks``): planned as ``run`` plans it, with the files and earlier outputs of
    ``history`` known ("now read it aloud" plans on the previous answer's text)."""
    return plan_outcome(agent, request, files, history).plan


def plan_outcome(agent: HuggingGPT, request: str, files: Sequence[str | Path] = (),
                 history: list[dict[str, Any]] | None = None) -> PlanOutcome:
    """``plan_only`` with the planner's notes (``hugginggpt plan`` prints the tasks it left out)."""
    history = history or []
    request, _, known = agent._prepare(request, files, history)
    return agent._plan(agent.planner(), request, known, len(files), history)
