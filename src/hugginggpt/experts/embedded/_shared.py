"""Process-wide lazily created models, shared by every expert that needs them, each used under its own lock."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

from ...errors import ExpertError, ExpertUnavailable, HuggingGPTError
from ...residents import register_resident

T = TypeVar("T")


class SharedModel(Generic[T]):
    """One model per process, created by ``factory`` on first use.

    ``use()`` holds the lock for the whole call: the wrapped libraries (mediapipe graphs, OpenCV detectors, RapidOCR)
    keep per-call state and must not run the same instance from two threads. Different models run in parallel.
    ``release()`` drops the instance; a caller already inside ``use()`` keeps its reference until it is done.
    Every instance registers itself with the expert pools (``register_resident``): it counts against the memory
    budget, and an idle one is released when the process is over it (a busy one, whose lock is held, is not).
    """

    def __init__(self, name: str, factory: Callable[[], T]) -> None:
        self.name = name
        self._factory = factory
        self._lock = threading.Lock()
        self._obj: T | None = None
        self._calls = 0
        self._release_pending = False
        self._resident = register_resident(name, lambda: self.loaded, lambda: self.release(defer=False))

    @property
    def loaded(self) -> bool:
        return self._obj is not None

    @contextmanager
    def use(self) -> Iterator[T]:
        # mediapipe/TFLite print start-up chatter from C++ during graph creation and the first call; keep it out
        # of the user's terminal (HUGGINGGPT_NATIVE_LOGS=1 shows it). The second manager is entered under the lock.
        with self._lock, quiet_native_stderr(self._calls < 2):
            if self._obj is None:
                self._obj = self._create()
            self._calls += 1
            self._resident.touch()
            try:
                yield self._obj
            finally:
                self._resident.touch()
                if self._release_pending:  # released while this call ran: drop it now that the call is done
                    self._drop()

    def load(self) -> None:
        with self.use():
            pass

    def release(self, *, defer: bool = True) -> bool:
        """Drop the instance; True when one was dropped now. Never waits: while a call is using it (possibly a
        hung one), it is dropped when that call ends (``defer``) or left alone (``defer=False``, the pool's idle
        eviction)."""
        if not self._lock.acquire(blocking=False):
            if defer:
                self._release_pending = True
            return False
        try:
            was_loaded = self._obj is not None
            self._drop()
            return was_loaded
        finally:
            self._lock.release()

    def _drop(self) -> None:  # under the lock
        obj, self._obj = self._obj, None
        self._calls = 0
        self._release_pending = False
        _close(obj)

    def _create(self) -> T:
        try:
            return self._factory()
        except HuggingGPTError:
            raise
        except Exception as exc:  # an import error, missing weight file, runtime failure: not loadable here
            raise ExpertUnavailable(
                f"{self.name} cannot be loaded: {type(exc).__name__}: {exc}",
                hint="Check the embedded expert packages with `hugginggpt doctor`.",
            ) from exc


def _close(obj: object) -> None:
    """Close what has ``close()`` (mediapipe graphs): dropping the reference alone leaves their native graph and
    buffers alive, about 125 MB for the face and pose models each time they are created again."""
    for part in obj if isinstance(obj, (tuple, list)) else (obj,):
        close = getattr(part, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # a model that fails to close is still dropped
                logging.getLogger(__name__).debug("closing %r failed", part, exc_info=True)


@contextmanager
def guard(what: str, path: Path) -> Iterator[None]:
    """Turn an unexpected library failure during a model call into an ``ExpertError`` naming the input."""
    try:
        yield
    except HuggingGPTError:
        raise
    except Exception as exc:
        raise ExpertError(f"{what} failed on {path.name}: {type(exc).__name__}: {exc}") from exc


@contextmanager
def quiet_native_stderr(active: bool = True) -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (native libraries bypass Python's sys.stderr)."""
    if not active or os.environ.get("HUGGINGGPT_NATIVE_LOGS") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
