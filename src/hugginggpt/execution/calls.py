"""What crosses the executor seam: an expert call and its reply, as plain data (paths, text and bytes).

Nothing here holds an open object (a model, a file handle, a lock): an :class:`ExpertCall` can be pickled and sent
to another process or machine, where :meth:`MediaInput.read` gives the bytes of each media input, and the
:class:`ExpertReply` comes back as text and bytes for the controller to store in its artifact store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .outputs import CheckedOutput


@dataclass(frozen=True)
class MediaInput:
    """One image, audio or video input of a call: where it lies on the controller, and its content hash.

    ``data`` is set when the bytes travel with the call (to a worker that cannot see the controller's files).
    """

    kind: str
    path: Path
    sha256: str | None = None
    data: bytes | None = None

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


@dataclass(frozen=True)
class ExpertCall:
    """One expert call: which model on which backend, for which task, on which inputs.

    ``inputs`` maps a task slot to its text or its :class:`MediaInput`. ``request`` is the user's request (a backend
    that words a prompt, the controller LLM's, uses it; the others ignore it).
    """

    task_id: int
    task: str
    model_id: str
    backend: str
    inputs: Mapping[str, str | MediaInput]
    request: str = ""
    run_id: str = ""

    def local_inputs(self) -> dict[str, Any]:
        """The inputs as experts take them: text as text, media as a path on this machine."""
        return {k: (v.path if isinstance(v, MediaInput) else v) for k, v in self.inputs.items()}


@dataclass(frozen=True)
class ExpertReply:
    """A checked expert result: its outputs (text, or bytes and an extension) and its facts (JSON-able)."""

    outputs: list[CheckedOutput]
    facts: dict[str, Any] = field(default_factory=dict)
    worker: str = ""  # where it ran (e.g. "thread", or a Ray actor and node), for provenance and traces
    cached: bool = False  # answered from the result cache (execution/cache.py), not by running the expert


class Executor(Protocol):
    """Runs expert calls somewhere: worker threads of this process, Ray actors, ...

    ``call`` returns a checked reply or raises a named ``HuggingGPTError``. When the awaiting task is cancelled (the
    task's timeout, the run's deadline) the implementation stops or abandons the call; it never blocks the event loop.
    """

    name: str

    async def call(self, call: ExpertCall) -> ExpertReply: ...

    def close(self) -> None: ...
