"""Worker threads for expert calls: one small bounded pool per model, made of daemon threads.

Why not ``asyncio.to_thread``: it uses the event loop's default executor, a handful of threads shared by everything
(planning, selection, every run). A model that hangs keeps its thread forever (a thread cannot be killed), so a few
hung calls used to take every thread and stall unrelated runs until the hung calls ended; and ``asyncio.run`` joins
the default executor on exit, so the synchronous ``run()`` waited for the hung call long after ``task_timeout``.

Here each model id gets its own :class:`DaemonExecutor` with at most ``max_workers`` threads: a hung model blocks
only its own slots. A call abandoned at its timeout is counted as *stuck* until it really ends; once every slot of a
model is stuck, new calls to it fail at once with ``ExpertUnavailable`` instead of queueing behind calls that may
never end. The threads are daemon threads that nothing joins: neither ``asyncio.run`` nor interpreter exit waits
for an abandoned call. Idle threads exit after ``idle_s`` seconds, so unused models hold no threads.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ExpertCrashed, ExpertError, ExpertUnavailable, HuggingGPTError

log = logging.getLogger(__name__)

T = TypeVar("T")
_ids = itertools.count(1)


class DaemonExecutor(concurrent.futures.Executor):
    """A bounded thread pool of daemon threads, never joined at exit, whose idle threads exit by themselves.

    Everything a submitted function raises, ``BaseException`` included, ends on its future; the thread survives.
    """

    def __init__(self, name: str, max_workers: int = 1, idle_s: float = 60.0) -> None:
        self.name = name
        self.max_workers = max(1, int(max_workers))
        self.idle_s = idle_s
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...],
                                             dict[str, Any]]] = collections.deque()
        self._threads: set[threading.Thread] = set()
        self._idle = 0
        self._busy = 0
        self._stuck = 0
        self._shutdown = False

    # ----- state --------------------------------------------------------------------------------------------------
    @property
    def threads(self) -> int:
        with self._cond:
            return len(self._threads)

    @property
    def busy(self) -> int:
        """Calls running now (stuck ones included)."""
        with self._cond:
            return self._busy

    @property
    def stuck(self) -> int:
        """Calls abandoned by their caller (timed out or cancelled) that are still running."""
        with self._cond:
            return self._stuck

    def abandon(self, future: concurrent.futures.Future[Any]) -> None:
        """Count a running call as stuck until it ends (its caller gave up on it)."""
        with self._cond:
            self._stuck += 1

        def ended(_: concurrent.futures.Future[Any]) -> None:
            with self._cond:
                self._stuck -= 1
            log.info("%s: an abandoned call ended", self.name)

        future.add_done_callback(ended)

    # ----- Executor -----------------------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._cond:
            if self._shutdown:
                raise RuntimeError(f"executor {self.name} is shut down")
            self._queue.append((future, fn, args, kwargs))
            if self._idle >= len(self._queue) or len(self._threads) >= self.max_workers:
                self._cond.notify()
            else:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{next(_ids)}", daemon=True)
                self._threads.add(thread)
                try:
                    thread.start()
                except RuntimeError as exc:  # "can't start new thread": out of threads or memory
                    self._threads.discard(thread)
                    if not self._threads:  # nobody would ever take the call
                        self._queue.pop()
                        raise ExpertUnavailable(f"{self.name} cannot start a worker thread ({exc}).",
                                                hint="The process is out of threads or memory; retry later.") \
                            from None
                    self._cond.notify()
        return future

    def shutdown(self, wait: bool = False, *, cancel_futures: bool = True) -> None:
        """Stop taking work; cancel queued calls. Running calls are never waited for (``wait`` is ignored)."""
        with self._cond:
            self._shutdown = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft()[0].cancel()
            self._cond.notify_all()

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while not self._queue:
                    if self._shutdown:
                        self._threads.discard(me)
                        return
                    self._idle += 1
                    woken = self._cond.wait(timeout=self.idle_s)
                    self._idle -= 1
                    if not woken and not self._queue:  # idle for idle_s: give the thread back
                        self._threads.discard(me)
                        return
                future, fn, args, kwargs = self._queue.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                self._busy += 1
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - the thread outlives whatever the call raised
                future.set_exception(exc)
            else:
                future.set_result(result)
            finally:
                with self._cond:
                    self._busy -= 1
            del future, fn, args, kwargs  # drop references to inputs/outputs while idle


def contained(fn: Callable[[], T], what: str) -> Callable[[], T]:
    """Wrap an expert call so that nothing it raises escapes as anything but a named ``ExpertError``.

    ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` raised *inside an expert* would otherwise travel
    through the future into the event loop, which re-raises the first two out of ``asyncio.run`` and loses the run.
    A real Ctrl-C is delivered to the main thread, never to a worker, so converting them here hides nothing.
    """

    def call() -> T:
        try:
            return fn()
        except HuggingGPTError:
            raise
        except MemoryError as exc:
            oom = f"{what} ran out of memory ({exc or 'allocation failed'})."
        except Exception as exc:
            raise ExpertError(f"{what} failed: {type(exc).__name__}: {str(exc)[:300] or 'no message'}",
                              hint="The model raised an unexpected error; try another model or input.") from exc
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, GeneratorExit from an expert
            raise ExpertCrashed(f"{what} stopped abruptly ({type(exc).__name__}"
                                f"{': ' + str(exc)[:100] if str(exc) else ''}).",
                                hint="The model tried to end the process or was interrupted; only its task "
                                     "failed. Report it to the model's maintainers.") from None
        # Raised outside the handler: a MemoryError's traceback holds the expert's frames and all they allocated,
        # and as this error's context it would keep them alive (and the process at its memory limit) until the
        # error itself is dropped, at the end of the run.
        raise ExpertCrashed(oom, hint="Use a smaller input, or a machine or backend with more memory.")

    return call


class ExpertWorkers:
    """One :class:`DaemonExecutor` per key (a model id, or ``inputs`` for input resolution)."""

    def __init__(self, max_per_model: int = 2, idle_s: float = 60.0, sizes: dict[str, int] | None = None) -> None:
        """``sizes``: keys with another bound than ``max_per_model`` (input resolution: downloads in parallel)."""
        self.max_per_model = max(1, max_per_model)
        self.idle_s = idle_s
        self.sizes = {"inputs": 8, **(sizes or {})}
        self._executors: dict[str, DaemonExecutor] = {}
        self._lock = threading.Lock()

    def executor(self, key: str) -> DaemonExecutor:
        with self._lock:
            ex = self._executors.get(key)
            if ex is None:
                size = self.sizes.get(key, self.max_per_model)
                ex = self._executors[key] = DaemonExecutor(f"worker:{key}", size, self.idle_s)
            return ex

    async def call(self, key: str, fn: Callable[[], T], *, what: str | None = None) -> T:
        """Run ``fn`` (an expert call) in ``key``'s worker threads and await it; contained, so that it raises
        nothing but named ``HuggingGPTError`` subclasses (see :func:`contained`).

        When the awaiting task is cancelled (its timeout, the run's deadline) the call is abandoned: still running
        in its thread, it is counted as stuck until it ends and its result is discarded.
        """
        ex = self.executor(key)
        if ex.stuck >= ex.max_workers:
            raise ExpertUnavailable(
                f"{key} is not answering: {ex.stuck} earlier call(s) to it timed out and are still running.",
                hint="The model looks hung; other models are unaffected. Restart the process to free it, or pick "
                     "another model with `overrides`.")
        return await self._await(ex, key, contained(fn, what or key))

    async def run(self, key: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` in ``key``'s worker threads and await it, not contained and never failed fast (for work that
        is not an expert's and ends by itself, such as resolving inputs within the download deadline)."""
        return await self._await(self.executor(key), key, fn)

    @staticmethod
    async def _await(ex: DaemonExecutor, key: str, fn: Callable[[], T]) -> T:
        cf = ex.submit(fn)
        try:
            return await asyncio.wrap_future(cf)
        except asyncio.CancelledError:
            if not cf.cancel():  # already running: it cannot be stopped, only abandoned
                ex.abandon(cf)
                log.warning("%s: abandoned a running call (timeout or cancellation); %d stuck", key, ex.stuck)
            raise

    def stats(self) -> dict[str, dict[str, int]]:
        """Per key: threads alive, calls running, calls stuck (for diagnostics and tests)."""
        with self._lock:
            items = list(self._executors.items())
        return {k: {"threads": ex.threads, "busy": ex.busy, "stuck": ex.stuck} for k, ex in items}
