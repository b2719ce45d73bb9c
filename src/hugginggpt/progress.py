"""Progress of long steps inside a run (a slow model load, speech synthesized chunk by chunk), for whoever shows it.

Code doing the work calls :func:`report` (or wraps a step in :func:`slow_step`). Two kinds of listener get it:

- the run's own (:func:`for_run`, set by the agent for the duration of a run): a context variable, so an update
  reaches only the run whose work made it (worker threads run in a copy of the run's context), as a ``progress``
  event of that run's stream (the CLI's live view, the server's events and the web UI);
- process-wide ones (:func:`listening`), for work outside a run (model downloads).

With no listener, reporting costs a lock and a list copy. A listener that raises is logged and never breaks the work.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """One update: ``key`` names the step (``load:<model>``, ``tts:<model>``); ``done``/``total`` count its steps
    when known; ``finished`` closes it (``seconds``: how long it took)."""

    key: str
    message: str
    done: int | None = None
    total: int | None = None
    finished: bool = False
    seconds: float | None = None

    @property
    def fraction(self) -> str:
        """``"3/12"``, or ``""`` when the step is not counted."""
        return f"{self.done}/{self.total}" if self.done is not None and self.total else ""


ProgressCallback = Callable[[Progress], None]

_listeners: list[ProgressCallback] = []
_lock = threading.Lock()
_run_listener: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar(
    "hugginggpt_run_progress", default=None)

SLOW_STEP_S = 1.0  # a step that takes longer than this is announced (model loads)


def add_listener(callback: ProgressCallback) -> None:
    with _lock:
        _listeners.append(callback)


def remove_listener(callback: ProgressCallback) -> None:
    with _lock:
        if callback in _listeners:
            _listeners.remove(callback)


@contextmanager
def listening(callback: ProgressCallback) -> Iterator[None]:
    """Send every progress update to ``callback`` inside the block (from whatever thread reports it)."""
    add_listener(callback)
    try:
        yield
    finally:
        remove_listener(callback)


@contextmanager
def for_run(callback: ProgressCallback) -> Iterator[None]:
    """Send the progress of the work done in this context (and in the threads it hands work to with a copy of it)
    to ``callback`` inside the block."""
    token = _run_listener.set(callback)
    try:
        yield
    finally:
        _run_listener.reset(token)


def active() -> bool:
    """Whether anyone listens (so that a caller can skip building updates)."""
    with _lock:
        return bool(_listeners) or _run_listener.get() is not None


def report(update: Progress) -> None:
    with _lock:
        listeners = list(_listeners)
    mine = _run_listener.get()
    if mine is not None:
        listeners.append(mine)
    for callback in listeners:
        try:
            callback(update)
        except Exception:  # a display must never break the work it shows
            log.exception("progress listener failed on %s", update.key)


@contextmanager
def slow_step(key: str, message: str, after: float = SLOW_STEP_S) -> Iterator[None]:
    """Announce the block with ``message`` once it has run for ``after`` seconds, and its end if it was announced;
    a block that ends sooner reports nothing."""
    state = {"ended": False, "announced": False}
    guard = threading.Lock()
    t0 = time.perf_counter()

    def announce() -> None:
        with guard:
            if state["ended"]:
                return
            state["announced"] = True
        report(Progress(key, message))

    timer = threading.Timer(after, contextvars.copy_context().run, args=(announce,))  # the run's listener too
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with guard:
            state["ended"] = True
            announced = state["announced"]
        if announced:
            report(Progress(key, message, finished=True, seconds=round(time.perf_counter() - t0, 3)))
