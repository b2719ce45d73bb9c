"""The Ray engine (``execution.engine: ray``): each model runs in its own Ray actor process (docs/scaling.md).

One named actor per (backend, model id) in the configured namespace, created on first use with ``get_if_exists``
(several controller processes share them), kept across tasks, runs and requests with its expert loaded. What this
buys over worker threads:

- **crashes are contained**: a native crash (abort, segfault) or a kill ends the actor process, not the controller;
  the task fails with ``ExpertCrashed`` and the actor restarts (``ray_max_restarts``) for the next call;
- **hangs are stopped**: when a task times out, its actor is killed, so no CPU is left spinning; the next call to
  the model starts a fresh actor;
- **memory is bounded**: each actor's address space is capped (its expert gets a MemoryError, reported as
  ``ExpertCrashed``), and the actors' declared memory together stay under ``ray_memory_budget_mb`` (the least
  recently used idle actors are killed first);
- **several machines**: actors are placed by resources derived from the task's media (``vision``, ``audio``
  custom resources when the cluster has them), and inputs travel as bytes or object refs, never as paths.

Backends that must run in the controller (``in_process = True``: the controller LLM) go to the wrapped
:class:`ThreadExecutor`. Ray is imported lazily; without it, choosing this engine is a ``ConfigError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ..backends.base import Backend
from ..catalog.cards import ModelCard
from ..config import HuggingGPTConfig
from ..errors import ExpertCrashed, ExpertError, ExpertUnavailable
from ..observability.tracing import inject_context
from .calls import ExpertCall, ExpertReply, MediaInput
from .ray_engine import BIG_INPUT_BYTES, Actor, RayEngine, import_ray
from .runner import ThreadExecutor

log = logging.getLogger(__name__)

class RayExecutor:
    """Runs expert calls in Ray actors (see the module docstring); the controller LLM's stay in ``threads``."""

    name = "ray"

    def __init__(self, engine: RayEngine, threads: ThreadExecutor, backends: Mapping[str, Backend],
                 card: Callable[[str, str], ModelCard | None]) -> None:
        self.engine = engine
        self.threads = threads
        self.backends = backends
        self.card = card

    async def call(self, call: ExpertCall) -> ExpertReply:
        backend = self.backends[call.backend]
        if getattr(backend, "in_process", False):
            return await self.threads.call(call)
        card = self.card(call.model_id, call.task)
        if card is None:
            raise ExpertUnavailable(f"{call.model_id} is not in the catalog.")
        factory = getattr(backend, "worker_factory", None)
        ray = await asyncio.to_thread(self.engine.ray)
        inputs = await asyncio.to_thread(self._payload, call, ray)
        for attempt in (1, 2):
            actor = await asyncio.to_thread(self.engine.actor, call.backend, call.model_id, factory,
                                            self._media(call))
            try:
                if not actor.ready:
                    await self._placed(ray, actor, call.model_id)
                return await self._run(ray, actor, card, call, inputs)
            except _NodeLost as lost:
                if attempt == 2:
                    raise ExpertCrashed(f"{call.model_id}: its worker node was lost twice ({lost}).",
                                        hint="Check the Ray cluster's nodes (ray status); the call is safe to "
                                             "retry.") from None
                log.warning("%s: node lost (%s); retrying once on another node", call.model_id, lost)
                # a new actor (the old one would wait for the cluster to notice the loss before restarting)
                self.engine.kill(actor, "its node was lost")
        raise AssertionError("unreachable")

    async def _placed(self, ray: Any, actor: Actor, model_id: str) -> None:
        """Wait until a new actor runs (its expert is not loaded yet: the first call loads it). While it cannot be
        placed for want of a CPU, idle actors of ours are killed, one a second, to make room."""
        future = asyncio.ensure_future(actor.handle.info.remote())
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=1.0)
                if done:
                    actor.node = future.result()["node"]
                    actor.ready = True
                    return
                await asyncio.to_thread(self.engine.make_room_for, actor)
        except asyncio.CancelledError:
            self.engine.release(actor)
            self.engine.kill(actor, f"{model_id} was still waiting for a place when its task was cancelled")
            raise
        except ray.exceptions.RayActorError as exc:
            self.engine.release(actor)
            self.engine.forget(actor)
            raise ExpertUnavailable(f"{model_id}: its Ray worker could not start ({_reason(str(exc))}).",
                                    hint="See the worker's error above; check that hugginggpt and the model's "
                                         "packages are installed on the Ray nodes.") from None

    async def _run(self, ray: Any, actor: Actor, card: ModelCard, call: ExpertCall, inputs: dict[str, Any]
                   ) -> ExpertReply:
        from .ray_worker import Failure

        ref = actor.handle.run.remote(card, call.request, inputs, inject_context())
        rss = None
        try:
            reply, rss, actor.node = await ref
        except asyncio.CancelledError:  # the task's timeout or the run's deadline: stop the call, free its CPU
            self.engine.kill(actor, f"a call to {call.model_id} was cancelled (timeout)")
            raise
        except ray.exceptions.RayActorError as exc:
            raise await asyncio.to_thread(self._died, actor, call.model_id, exc) from None
        except ray.exceptions.RayTaskError as exc:  # the worker itself failed (not the expert: that is a Failure)
            raise ExpertError(f"{call.model_id}: the Ray worker failed: {str(exc).splitlines()[0][:300]}",
                              hint="See the Ray worker logs.") from None
        except ray.exceptions.RayError as exc:  # out of memory (Ray's monitor), object lost, ...
            raise ExpertCrashed(f"{call.model_id}: the Ray worker was lost ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0][:200]}).",
                                hint="Ray's memory monitor or the cluster ended it; only this task failed.") from None
        finally:
            self.engine.release(actor, rss, call.model_id)
        if isinstance(reply, Failure):
            raise reply.exception()
        if not isinstance(reply, ExpertReply):
            raise ExpertError(f"{call.model_id}: the Ray worker answered a {type(reply).__name__}, not a reply.")
        return reply

    def _died(self, actor: Actor, model_id: str, exc: Exception) -> Exception:
        why = self.engine.killed.get(actor.name)
        if why is not None:
            return ExpertUnavailable(f"{model_id} was stopped while this call waited for it: {why}.",
                                     hint="Retry; the next call starts a fresh worker.")
        if self._node_lost(actor, exc):
            return _NodeLost(f"node {actor.node[:8]} of {model_id}'s worker died")
        restarts = self.engine.settings.ray_max_restarts
        detail = ("it ended abruptly and Ray is restarting it"
                  if isinstance(exc, self.engine.ray().exceptions.ActorUnavailableError) else _reason(str(exc)))
        actor.crashes += 1
        if actor.crashes > restarts:  # Ray will not restart it again: the next call makes a new one
            self.engine.forget(actor)
        return ExpertCrashed(
            f"{model_id} crashed: its worker process died ({detail}).",
            hint=f"A native crash (abort, segmentation fault) or the process was killed; only this task failed. "
                 f"The worker restarts for the next call (up to {restarts} times).")

    def _node_lost(self, actor: Actor, exc: Exception) -> bool:
        """Whether the actor's node (not just its process) went away: the error says so, or the node is gone."""
        return "node has died" in str(exc).lower() or not self.engine.node_alive(actor.node)

    @staticmethod
    def _payload(call: ExpertCall, ray: Any) -> dict[str, Any]:
        """Inputs that travel: text as is, media as (light MediaInput, bytes or an object ref for large ones)."""
        from .ray_worker import carried_payload

        return {slot: (v if isinstance(v, str) else carried_payload(v, BIG_INPUT_BYTES, ray.put))
                for slot, v in call.inputs.items()}

    @staticmethod
    def _media(call: ExpertCall) -> set[str]:
        """The media a task handles: its media inputs and the outputs its task type declares."""
        media = {v.kind for v in call.inputs.values() if isinstance(v, MediaInput)}
        try:
            from ..tasks import default_registry

            media |= set(default_registry().get(call.task).outputs)
        except Exception:  # noqa: BLE001 - an unknown task type: its inputs decide
            pass
        return media

    def close(self) -> None:
        """Nothing: the actors outlive the run (the engine in the agent's state keeps them)."""


class _NodeLost(ExpertCrashed):
    """The actor's node died (retried once: experts are idempotent)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


def _reason(text: str) -> str:
    """The first informative line of a Ray error message, short."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "File ", "ray.exceptions")):
            return line[:240]
    return text[:240]


def ray_executor(config: HuggingGPTConfig, threads: ThreadExecutor, backends: Mapping[str, Backend],
                 card: Callable[[str, str], ModelCard | None], shared: dict[str, Any]) -> RayExecutor:
    """The Ray executor for one run; the engine (Ray, actors) lives in ``shared`` across runs."""
    import_ray()  # a clear ConfigError now, before any task runs, when Ray is missing
    engine = shared.get("ray")
    if not isinstance(engine, RayEngine):
        engine = shared["ray"] = RayEngine(config)
    engine.learn(threads.pool.loads)
    return RayExecutor(engine, threads, backends, card)
