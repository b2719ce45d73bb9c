"""The worker side of the Ray engine: one actor process per (backend, model id), holding that expert loaded.

The actor builds its backend from the controller's configuration (sent as a dict), in its own process with its own
:class:`ExpertPool`; it never needs the controller's filesystem: media inputs arrive as bytes (or object refs for
large ones) and are written into a temporary directory for the call. The result is checked here with
:func:`check_result` and goes back as an :class:`ExpertReply` (text and bytes); the controller stores it.

Imported in the Ray worker processes (and by the controller, to define the actor class); it imports Ray only inside
functions that run where Ray is installed.
"""

from __future__ import annotations

import importlib
import os
import re
import resource
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from ..catalog.cards import ModelCard
from ..config import HuggingGPTConfig
from ..errors import ConfigError, ExpertUnavailable, HuggingGPTError
from ..experts.pool import ExpertPool, rss_mb
from ..experts.workers import contained
from ..observability.tracing import attach_context, get_tracer, setup_tracing
from .calls import ExpertReply, MediaInput
from .outputs import run_checked

HUB_BACKENDS = ("transformers", "hf-inference", "http")


@dataclass(frozen=True)
class Failure:
    """A named error raised in the worker, sent back as plain data (the controller raises it again)."""

    type: str
    message: str
    hint: str | None = None

    def exception(self) -> HuggingGPTError:
        from .. import errors

        cls = getattr(errors, self.type, None)
        if not (isinstance(cls, type) and issubclass(cls, HuggingGPTError)):
            cls = errors.ExpertError
        return cls(self.message, hint=self.hint)


def build_backend(config: HuggingGPTConfig, pool: ExpertPool, name: str, factory: str | None = None) -> Backend:
    """The backend ``name`` as the controller would build it, in this process. ``factory`` (``module:function``,
    called with the config and the pool) builds a backend that is neither embedded nor a hub backend."""
    if factory:
        module, _, fn = factory.partition(":")
        built: Backend = getattr(importlib.import_module(module), fn)(config, pool)
        return built
    if name == "embedded":
        from ..backends.embedded import EmbeddedBackend

        return EmbeddedBackend(pool)
    if name in HUB_BACKENDS:
        from ..backends.modes import build_hub_backends

        return build_hub_backends(config, pool)[name]
    raise ConfigError(f"The backend {name!r} cannot run in a Ray worker.",
                      hint="Give its class a worker_factory ('module:function' building it from the config and an "
                           "ExpertPool), mark it in_process = True, or use execution.engine: threads.")


def limit_memory(limit_mb: float) -> int:
    """Cap this process's address space at its present size plus ``limit_mb`` (an expert that allocates past it
    gets a MemoryError, which the call reports as ExpertCrashed). Returns the cap in bytes."""
    try:
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
    cap = vm + int(limit_mb * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    return cap


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def materialize(inputs: Mapping[str, Any], tmp: Path) -> dict[str, Any]:
    """The call's inputs as experts take them: text as text, media written to files under ``tmp`` (same name and
    extension as on the controller). A media value is a MediaInput with its bytes, or (large media) an ObjectRef."""
    out: dict[str, Any] = {}
    for i, (slot, value) in enumerate(inputs.items()):
        if isinstance(value, str):
            out[slot] = value
            continue
        media, data = value
        if not isinstance(data, bytes):  # an object ref: the bytes are fetched from the object store
            import ray

            data = ray.get(data)
        path = tmp / f"{i}-{_SAFE.sub('_', media.path.name)[-120:] or 'input'}"
        path.write_bytes(data)
        out[slot] = path
    return out


class ExpertWorker:
    """The actor: one backend, one model, loaded on the first call and kept until the actor is killed."""

    def __init__(self, config: dict[str, Any], backend: str, model_id: str, factory: str | None = None,
                 memory_limit_mb: float | None = None) -> None:
        from ..imaging import set_max_image_pixels, set_max_image_side

        self.config = HuggingGPTConfig.model_validate(config)
        setup_tracing(self.config.tracing)  # the worker's spans go where the controller's go
        set_max_image_pixels(self.config.max_image_pixels)
        set_max_image_side(self.config.max_image_side)
        self.pool = ExpertPool(self.config.memory_budget_mb)
        self.model_id = model_id
        self.backend = build_backend(self.config, self.pool, backend, factory)
        self.cap = limit_memory(memory_limit_mb) if memory_limit_mb else 0
        self.node = _node_id()
        self.where = f"ray:{self.node[:8]}/pid{os.getpid()}"

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "node": _node_id(), "rss_mb": round(rss_mb(), 1), "memory_cap": self.cap}

    def run(self, card: ModelCard, request: str, inputs: Mapping[str, Any], trace: Mapping[str, str] | None = None
            ) -> tuple[ExpertReply | Failure, float, str]:
        """Run the expert on the inputs: the checked reply (or the named failure), this process's RSS after it (MiB)
        and this node's id. ``trace``: the caller's trace context, so the worker's span joins the run's trace."""
        with attach_context(trace), get_tracer().start_as_current_span("hugginggpt.worker", attributes={
                "hugginggpt.model_id": card.id, "hugginggpt.worker": self.where}):
            return self._run(card, request, inputs)

    def _run(self, card: ModelCard, request: str, inputs: Mapping[str, Any]
             ) -> tuple[ExpertReply | Failure, float, str]:
        try:
            with tempfile.TemporaryDirectory(prefix="hugginggpt-call-") as tmp:
                local = materialize(inputs, Path(tmp))
                go = partial(run_checked, self.pool, self.backend, card, request, local)
                outputs, facts = contained(go, card.id)()
            return ExpertReply(outputs=outputs, facts=facts, worker=self.where), rss_mb(), self.node
        except HuggingGPTError as exc:
            return Failure(type(exc).__name__, exc.message, exc.hint), rss_mb(), self.node
        except OSError as exc:  # the temporary directory (disk full...)
            err = ExpertUnavailable(f"{card.id}: the worker could not write its inputs ({exc}).",
                                    hint="Free disk space on the worker node.")
            return Failure(type(err).__name__, err.message, err.hint), rss_mb(), self.node


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() or ""
    except Exception:  # noqa: BLE001 - outside Ray (tests of this module): no node
        return ""


def carried_payload(media: MediaInput, big_bytes: int, put: Any) -> tuple[MediaInput, Any]:
    """What travels for one media input: a light MediaInput (no bytes) and its bytes, or an object ref to them when
    they are larger than ``big_bytes`` (``put`` is ``ray.put``)."""
    data = media.read()
    light = MediaInput(media.kind, media.path, media.sha256)
    return light, (put(data) if len(data) > big_bytes else data)
