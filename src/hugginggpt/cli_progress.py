"""Progress display of the CLI: long steps of a run (slow model loads, speech chunk i/n) as ``progress`` events in
the live run view, and model downloads as Rich progress bars. Nothing is shown when the console is not a terminal.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from . import progress
from .results import progress_event


@contextmanager
def run_progress(view: Any, console: Console) -> Iterator[None]:
    """Inside the block, long steps of the run show in ``view`` (a ``render.ProgressView``) on a terminal."""
    if not console.is_terminal:
        yield
        return
    with progress.listening(lambda update: view.on_event(progress_event(update))):
        yield


class _Amount(ProgressColumn):
    """``12.3/45.6 MB`` for a byte count, ``3/5`` for anything else."""

    def render(self, task: Task) -> Text:
        done, total = int(task.completed), int(task.total) if task.total else None
        if task.fields.get("unit") == "B":
            return Text(f"{decimal(done)}/{decimal(total)}" if total else decimal(done), style="progress.download")
        return Text(f"{done}/{total}" if total else str(done), style="progress.download")


class _RichBar:
    """A ``tqdm``-shaped bar (what ``huggingface_hub.snapshot_download(tqdm_class=...)`` drives: the file count and
    the bytes) drawn as a task of the class's ``prog``. The display starts with the first bar, so that a question
    asked before the download is not drawn over."""

    prog: ClassVar[Progress]
    lock: ClassVar[threading.Lock]

    def __init__(self, *args: Any, total: float | None = None, desc: str | None = None, initial: float = 0,
                 unit: str = "it", **kwargs: Any) -> None:
        with self.lock:
            if not self.prog.live.is_started:
                self.prog.start()
        self.n = initial or 0
        self.desc = desc or ""
        self._total = total
        self._task = self.prog.add_task(self.desc, total=total or None, completed=int(self.n), unit=unit)

    @property
    def total(self) -> float | None:
        return self._total

    @total.setter
    def total(self, value: float | None) -> None:
        self._total = value
        self.prog.update(self._task, total=value or None)

    @property
    def format_dict(self) -> dict[str, Any]:
        return {"n": self.n, "total": self._total, "rate": None}

    def update(self, n: float | None = 1) -> bool:
        self.n += n or 0
        self.prog.update(self._task, completed=self.n)
        return True

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        self.prog.update(self._task, total=self._total or None, completed=self.n, description=self.desc)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""
        self.prog.update(self._task, description=self.desc)

    set_description_str = set_description

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        return None

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> _RichBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def download_bars(prog: Progress) -> type[_RichBar]:
    """A bar class whose bars are tasks of ``prog`` (for ``tqdm_class``)."""
    return type("RichBar", (_RichBar,), {"prog": prog, "lock": threading.Lock()})


@contextmanager
def download_progress(console: Console) -> Iterator[type[_RichBar]]:
    """A bar class for ``snapshot_download`` shown on ``console`` (hidden when it is not a terminal)."""
    prog = Progress(TextColumn("{task.description}"), BarColumn(), _Amount(), TimeRemainingColumn(),
                    console=console, disable=not console.is_terminal)
    try:
        yield download_bars(prog)
    finally:
        if prog.live.is_started:
            prog.stop()
