"""Process-wide models created outside any expert pool (the sentence embedder, spaCy, the OCR engine, mediapipe
graphs). Each registers here with :func:`register_resident`, so that every pool counts it against its memory budget
and may release it while it is idle; :class:`LazyResident` is the usual way to hold one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(eq=False)
class Resident:
    """A process-wide model created outside the pool. ``release`` drops it and returns False when it is busy."""

    name: str
    is_loaded: Callable[[], bool]
    release: Callable[[], bool]
    last_used: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        self.last_used = time.monotonic()


_residents: list[Resident] = []
_residents_lock = threading.Lock()


def register_resident(name: str, is_loaded: Callable[[], bool], release: Callable[[], bool]) -> Resident:
    """Make a process-wide model count against every pool's budget (and be released when idle and over it)."""
    resident = Resident(name, is_loaded, release)
    with _residents_lock:
        _residents.append(resident)
    return resident


def unregister_resident(resident: Resident) -> None:
    """Forget a resident (tests that register their own)."""
    with _residents_lock:
        if resident in _residents:
            _residents.remove(resident)


def residents() -> list[Resident]:
    with _residents_lock:
        return list(_residents)


class LazyResident(Generic[T]):
    """One process-wide object, created by ``factory`` on the first ``get()`` and registered as a resident.

    No lock is held while callers use it (unlike the experts' ``SharedModel``): for objects that are safe to call
    from several threads (the sentence embedder) or that serialise their own calls. ``release()`` drops it (the
    pool's eviction when over the memory budget); a caller holding the object keeps it until it is done.
    """

    def __init__(self, name: str, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._obj: T | None = None
        self._resident = register_resident(name, lambda: self._obj is not None, self.release)

    @property
    def current(self) -> T | None:
        """The object if it is loaded now; never creates it."""
        return self._obj

    def get(self) -> T:
        """The object, created on first call (under the lock, so only once)."""
        self._resident.touch()
        obj = self._obj
        if obj is None:
            with self._lock:
                if self._obj is None:
                    self._obj = self._factory()
                obj = self._obj
        return obj

    def release(self) -> bool:
        """Drop the object; True when one was loaded."""
        with self._lock:
            was_loaded, self._obj = self._obj is not None, None
        return was_loaded
