"""Process-wide lazily created models, shared by every expert that needs them, each used under its own lock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

from ...errors import ExpertError, ExpertUnavailable, HuggingGPTError

T = TypeVar("T")


class SharedModel(Generic[T]):
    """One model per process, created by ``factory`` on first use.

    ``use()`` holds the lock for the whole call: the wrapped libraries (mediapipe graphs, OpenCV detectors, RapidOCR)
    keep per-call state and must not run the same instance from two threads. Different models run in parallel.
    ``release()`` drops the instance; a caller already inside ``use()`` keeps its reference until it is done.
    """

    def __init__(self, name: str, factory: Callable[[], T]) -> None:
        self.name = name
        self._factory = factory
        self._lock = threading.Lock()
        self._obj: T | None = None

    @property
    def loaded(self) -> bool:
        return self._obj is not None

    @contextmanager
    def use(self) -> Iterator[T]:
        with self._lock:
            if self._obj is None:
                self._obj = self._create()
            yield self._obj

    def load(self) -> None:
        with self.use():
            pass

    def release(self) -> None:
        with self._lock:
            self._obj = None

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


@contextmanager
def guard(what: str, path: Path) -> Iterator[None]:
    """Turn an unexpected library failure during a model call into an ``ExpertError`` naming the input."""
    try:
        yield
    except HuggingGPTError:
        raise
    except Exception as exc:
        raise ExpertError(f"{what} failed on {path.name}: {type(exc).__name__}: {exc}") from exc
