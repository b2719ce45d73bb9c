"""Runs as background jobs: each is recorded in SQLite, its events are stored and fanned out to live listeners.

Every entry point (JARVIS routes, OpenAI routes, /v1/runs, the web UI) starts runs here, so every run is durable
and observable the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..agent import HuggingGPT
from ..history import check_history
from ..planning.limits import check_request
from ..results import ErrorInfo, Event, RunResult
from .inputs import Inputs
from .store import RunRecord, ServerDB
from .view import PublicView

log = logging.getLogger(__name__)

END = None  # queue sentinel: the run is over


# Run statuses whose answer is returned to synchronous callers (200); the others are answered with their error.
ANSWERED = ("succeeded", "partial")


def failure_of(result: RunResult) -> ErrorInfo | None:
    """Why a run failed as a whole (``result.status == "failed"``), or None for a run that succeeded or partly
    succeeded. A run whose every task failed (translation with no model here, a truncated image, a fake WAV)
    failed with the error of its first failed task, the root cause (the others were skipped after it or failed
    the same way); its HTTP status follows that error's class."""
    if result.status != "failed":
        return None
    if result.error is not None:
        return result.error
    failed = [r.error for r in result.results if r.status == "failed" and r.error is not None]
    skipped = [r.error for r in result.results if r.error is not None]
    return (failed or skipped or [ErrorInfo(type="InternalError", code="internal_error",
                                            message="No task of the run succeeded.")])[0]


class RunManager:
    """Starts runs, records their events and results, and lets callers wait for or listen to them."""

    def __init__(self, agent: HuggingGPT, db: ServerDB, view: PublicView, *, max_concurrent: int = 4) -> None:
        self.agent = agent
        self.db = db
        self.view = view
        self._gate = asyncio.Semaphore(max(1, max_concurrent))
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = {}
        self._seq: dict[str, int] = {}
        # Called with (run id, event) for every event published (the /metrics counters, observability/metrics.py).
        self.observers: list[Callable[[str, dict[str, Any]], None]] = []

    @property
    def active(self) -> int:
        return len(self._tasks)

    # ----- chat memory ------------------------------------------------------------------------------------------
    def answer_digest(self, answer: str) -> str:
        """The key of an answer however a client sends it back: in its public form (artifact URLs, HTTP hints),
        whitespace collapsed."""
        return hashlib.sha256(" ".join(self.view.text(answer).split()).encode()).hexdigest()

    def remember(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``history`` with every assistant turn this server answered resolved to its stored run: its ``run_id``
        (sent with the message, or found from the answer's text) and the run's real ``artifacts`` and ``texts``
        (``RunResult.as_turn``), which chat memory then reads instead of the answer's wording. Turns of other
        clients, of unknown runs or of runs without a result stay as they are (read from their text). Reads
        SQLite: call it in a worker thread."""
        out = []
        for msg in history:
            result = self._result_of(msg) if msg.get("role") == "assistant" else None
            if result is not None:
                turn = result.as_turn()
                msg = {**msg, "run_id": turn.run_id, "artifacts": [f.model_dump() for f in turn.artifacts or []],
                       "texts": turn.texts}
            out.append(msg)
        return out

    def _result_of(self, msg: dict[str, Any]) -> RunResult | None:
        run_id = msg.get("run_id")
        rec = self.db.get_run(run_id) if isinstance(run_id, str) and run_id else None
        if rec is None or rec.result is None:
            found = self.db.run_with_answer(self.answer_digest(str(msg.get("content") or "")))
            rec = self.db.get_run(found) if found else None
        if rec is None or rec.result is None:
            return None
        try:
            result = RunResult.model_validate(rec.result)
        except ValueError:  # a result stored by an older version that no longer validates: read the text
            log.warning("stored result of run %s does not validate; its answer is read from its text", rec.id)
            return None
        result.run_id = rec.id
        return result

    def check(self, inputs: Inputs, agent: HuggingGPT | None = None) -> None:
        """Refuse at once what the agent would refuse first (so the client gets a 400/413, not a failed run), and
        before anything is stored: an empty or too long request, a history over the limits (every entry point,
        the web UI included, starts runs here)."""
        config = (agent or self.agent).config
        check_history(inputs.history, max_turns=config.max_history_turns, max_chars=config.max_history_chars)
        check_request(inputs.request, config.max_request_chars)  # the agent's own check, so both refuse alike

    async def start(self, inputs: Inputs, *, source: str, conversation_id: str | None = None,
                    agent: HuggingGPT | None = None) -> str:
        """Record a queued run and start it in the background; returns its id."""
        self.check(inputs, agent)
        run_id = uuid.uuid4().hex[:16]
        self.db.create_run(RunRecord(
            id=run_id, status="queued", source=source, request=inputs.request, conversation_id=conversation_id,
            input={"history": inputs.history, "files": [str(f) for f in inputs.files]}, created_at=time.time()))
        if conversation_id:
            self.db.add_message(conversation_id, "user", inputs.request, [str(f) for f in inputs.files], run_id)
        self._seq[run_id] = 0
        task = asyncio.create_task(self._execute(run_id, inputs, agent or self.agent, conversation_id))
        self._tasks[run_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(run_id, None))
        return run_id

    async def wait(self, run_id: str) -> RunRecord | None:
        """The run's record once it has finished."""
        task = self._tasks.get(run_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        return self.db.get_run(run_id)

    def listen(self, run_id: str) -> asyncio.Queue[dict[str, Any] | None]:
        """A queue of the run's events from now on; ``None`` marks the end. Call ``unlisten`` when done."""
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._listeners.setdefault(run_id, set()).add(q)
        task = self._tasks.get(run_id)
        if task is None or task.done():
            q.put_nowait(END)
        return q

    async def follow(self, run_id: str, after: int = 0, keepalive: float | None = None
                     ) -> AsyncIterator[dict[str, Any] | None]:
        """Every event of a run after ``after`` (stored ones first, then live ones) until it ends. With
        ``keepalive``, yields ``None`` after that many idle seconds (for SSE comments)."""
        q = self.listen(run_id)
        try:
            last, ended = after, False
            for stored in self.db.events(run_id, after):
                yield stored.event
                last, ended = stored.seq, stored.event.get("kind") == "answer"
            while True:
                try:
                    item = await (asyncio.wait_for(q.get(), keepalive) if keepalive else q.get())
                except TimeoutError:
                    yield None
                    continue
                if item is END:
                    break
                if item["seq"] > last:
                    last, ended = item["seq"], item.get("kind") == "answer"
                    yield item
            if not ended:
                # The run's process died before it could send its last event (a crash, SIGKILL): say how it ended.
                final = self._final_event(run_id)
                if final is not None and final["seq"] > after:
                    yield final
        finally:
            self.unlisten(run_id, q)

    def _final_event(self, run_id: str) -> dict[str, Any] | None:
        """The closing ``answer`` event of a finished run whose stored stream has none, from its record."""
        rec = self.db.get_run(run_id)
        last = self.db.last_event(run_id)
        if rec is None or not rec.finished or (last is not None and last.event.get("kind") == "answer"):
            return None
        seq = (last.seq if last else 0) + 1
        return self.view.deep({"kind": "answer", "stage": "done", "status": rec.status, "seq": seq,
                               "at": rec.finished_at or time.time(), "message": (rec.result or {}).get("answer", ""),
                               "data": {"run_id": run_id, "error": rec.error}})

    def unlisten(self, run_id: str, q: asyncio.Queue[dict[str, Any] | None]) -> None:
        qs = self._listeners.get(run_id)
        if qs is not None:
            qs.discard(q)
            if not qs:
                self._listeners.pop(run_id, None)

    async def shutdown(self) -> None:
        """Cancel what is running and record it as interrupted."""
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self.db.interrupt_unfinished("The server stopped while this run was in progress.")

    # ----- internals --------------------------------------------------------------------------------------------
    async def _execute(self, run_id: str, inputs: Inputs, agent: HuggingGPT, conversation_id: str | None) -> None:
        loop = asyncio.get_running_loop()

        def on_event(event: Event) -> None:
            payload = event.model_dump(mode="json")
            try:
                same_loop = asyncio.get_running_loop() is loop
            except RuntimeError:
                same_loop = False
            if same_loop:
                self._publish(run_id, payload)
            else:  # emitted from a worker thread
                loop.call_soon_threadsafe(self._publish, run_id, payload)

        status, result, error = "failed", None, None
        try:
            async with self._gate:
                self.db.mark_running(run_id)
                self._publish(run_id, {"kind": "run", "status": "running", "at": time.time()})
                history = await asyncio.to_thread(self.remember, inputs.history)
                res: RunResult = await agent.arun(inputs.request, files=inputs.files, history=history,
                                                  on_event=on_event, run_id=run_id)
            res.run_id = run_id
            failure = failure_of(res)
            status = res.status
            result, error = res.model_dump(mode="json"), (failure.model_dump() if failure else None)
        except asyncio.CancelledError:
            status = "interrupted"
            error = {"type": "Interrupted", "code": "interrupted", "message": "The run was cancelled (server "
                     "shutdown).", "hint": "Start the request again."}
            raise
        except Exception as exc:
            log.exception("run %s crashed", run_id)
            error = ErrorInfo.from_exc(exc).model_dump()
        finally:
            answer = (result or {}).get("answer", "")
            try:
                self.db.finish_run(run_id, status, result, error)
                if result is not None:
                    self.db.add_answer(run_id, self.answer_digest(answer))
                if conversation_id and result is not None:
                    self.db.add_message(conversation_id, "assistant", answer, [], run_id)
            except Exception:  # a full disk must not keep listeners waiting for the end forever
                log.exception("could not record the end of run %s", run_id)
            # Every stream ends with this event, whatever happened above.
            self._publish(run_id, {"kind": "answer", "stage": "done", "status": status, "at": time.time(),
                                   "message": answer, "data": {"run_id": run_id, "error": error}})
            for q in self._listeners.get(run_id, ()):
                q.put_nowait(END)
            self._seq.pop(run_id, None)

    def _publish(self, run_id: str, payload: dict[str, Any]) -> None:
        seq = self._seq.get(run_id, 0) + 1
        self._seq[run_id] = seq
        event = self.view.deep(payload)
        event["seq"] = seq
        event.setdefault("at", time.time())
        try:
            self.db.add_event(run_id, seq, event)
        except Exception:
            log.exception("could not store event %s of run %s", seq, run_id)
        for q in self._listeners.get(run_id, ()):
            q.put_nowait(event)
        for observe in self.observers:
            try:
                observe(run_id, payload)
            except Exception:  # metrics must never break a run
                log.exception("event observer failed on run %s", run_id)
