"""The Ray side of the Ray engine: Ray started or joined once per process, and the expert actors it keeps.

:class:`RayEngine` owns one named actor per (backend, model id), created on first use with ``get_if_exists`` (so
several controller processes share them) and placed by the resources its model needs: CPUs, the memory its expert
is measured to hold, a GPU for hub models on one, and the custom resources of its media (``vision``, ``audio``) when
the cluster declares them. Past ``ray_memory_budget_mb``, or when the cluster's CPUs are all held, the least
recently used idle actors are killed. :mod:`.ray_executor` sends the calls.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..config import HuggingGPTConfig
from ..errors import ConfigError

log = logging.getLogger(__name__)

PIP_LINE = "pip install 'hugginggpt[ray]'"

# Resident memory (MiB) an expert adds to a process, from docs/experts.md (benchmarks/experts.py); models not
# listed get DEFAULT_MEMORY_MB until their actor reports what it really holds after a call.
MEMORY_MB: dict[str, float] = {
    "hugginggpt/silero-vad": 253, "hugginggpt/deepfilternet3": 78, "hugginggpt/whisper-tiny.en": 174,
    "hugginggpt/whisper-base": 300, "hugginggpt/opencv-canny": 48, "hugginggpt/ocr-extractive-document-qa": 600,
    "hugginggpt/minilm-embedding": 206, "hugginggpt/efficientnet-lite0": 257, "hugginggpt/selfie-segmentation": 116,
    "hugginggpt/composite-captioner": 638, "hugginggpt/pp-ocrv4-reader": 300, "hugginggpt/opencv-lsd-lines": 63,
    "hugginggpt/face-person-detector": 260, "hugginggpt/mediapipe-openpose-map": 214,
    "hugginggpt/minilm-spacy-extractive-qa": 500, "hugginggpt/minilm-sentence-similarity": 207,
    "hugginggpt/minilm-extractive-summarizer": 207, "hugginggpt/vader-sentiment": 21,
    "hugginggpt/espeak-ng": 30, "hugginggpt/piper-joe-medium": 250, "hugginggpt/spacy-en-core-web-sm-ner": 302,
    "hugginggpt/minilm-zero-shot": 207,
}
DEFAULT_MEMORY_MB = 1024.0  # a hub model we know nothing about
BASE_MB = 250.0  # an actor process that has imported hugginggpt, before its expert loads
# Media of a task -> the custom resource whose nodes run it (used only when the cluster declares that resource).
MEDIA_RESOURCES: dict[str, str] = {"image": "vision", "video": "vision", "audio": "audio"}
RESOURCE_UNIT = 0.001  # a placement label, not a capacity: any number of experts fit on a node that has it
BIG_INPUT_BYTES = 4 * 2**20  # media above this go through the object store (ray.put) instead of inside the call


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("execution.engine: ray needs Ray, which is not installed.",
                          hint=f"{PIP_LINE}, or use execution.engine: threads.") from None
    return ray


@dataclass(eq=False)
class Actor:
    """One expert actor known to this controller."""

    name: str
    handle: Any
    memory_mb: float
    cpus: float
    busy: int = 0
    crashes: int = 0
    node: str = ""  # where it last answered from
    ready: bool = False  # placed and constructed
    last_used: float = field(default_factory=time.monotonic)


class RayEngine:
    """What the Ray engine keeps across runs (in the agent's ``_engine_state``): Ray's initialisation, the actors
    this controller uses (least recently used first) and the measured memory of each model."""

    def __init__(self, config: HuggingGPTConfig) -> None:
        self.config = config
        self.settings = config.execution
        self.budget_mb = float(self.settings.ray_memory_budget_mb or config.memory_budget_mb)
        self.memory_mb: dict[str, float] = dict(MEMORY_MB)
        self.media_resources: dict[str, str] = dict(getattr(self.settings, "ray_media_resources", MEDIA_RESOURCES))
        self.num_cpus = 1.0  # per actor
        self.num_gpus = 1.0 if config.hub.device.startswith("cuda") else 0.0  # per hub-model actor
        self.min_memory_cap_mb = 2048.0  # an actor's address space may grow by max(this, 4 x its memory)
        self.measured: set[str] = set()  # models whose memory an actor reported
        self.actors: OrderedDict[str, Actor] = OrderedDict()
        self.killed: dict[str, str] = {}  # actor name -> why this controller killed it (reported to waiting calls)
        self._lock = threading.RLock()
        self._ray: Any = None
        self._config_dict = config.model_dump(mode="json")

    # ----- Ray ----------------------------------------------------------------------------------------------------
    def ray(self) -> Any:
        """Ray, initialised on first use (blocking: starting a local instance takes seconds)."""
        if self._ray is None:
            with self._lock:
                if self._ray is None:
                    ray = import_ray()
                    if not ray.is_initialized():
                        _init_in_keeper_thread(ray, self._init_args())
                    self._ray = ray
        return self._ray

    def _init_args(self) -> dict[str, Any]:
        local = self.settings.ray_address in (None, "")
        # "local": a new instance of our own, even where another one runs on this machine
        return {"address": self.settings.ray_address or "local", "namespace": self.settings.ray_namespace,
                "num_cpus": self.settings.ray_num_cpus if local else None, "include_dashboard": False,
                "ignore_reinit_error": True, "log_to_driver": False}

    def namespace(self) -> str:
        ctx = self.ray().get_runtime_context()
        return ctx.namespace or self.settings.ray_namespace

    # ----- actors -------------------------------------------------------------------------------------------------
    def actor(self, backend: str, model_id: str, factory: str | None, media: set[str]) -> Actor:
        """The actor for (backend, model), created (or found, when another controller made it) on first use."""
        ray = self.ray()
        name = f"{backend}:{model_id}"
        with self._lock:
            known = self.actors.get(name)
            if known is not None:
                self.actors.move_to_end(name)
                known.busy += 1
                known.last_used = time.monotonic()
                return known
            memory = self.memory_mb.get(model_id, DEFAULT_MEMORY_MB if backend != "embedded" else 300.0) + BASE_MB
            gpus = self.num_gpus if backend == "transformers" else 0.0
            self._make_room(memory, self.num_cpus)
            from .ray_worker import ExpertWorker

            options: dict[str, Any] = {
                "name": name, "namespace": self.namespace(), "get_if_exists": True, "lifetime": "detached",
                "max_restarts": self.settings.ray_max_restarts, "max_task_retries": 0, "num_cpus": self.num_cpus,
                "memory": int(memory * 2**20), "resources": self.placement(media)}
            if gpus:
                options["num_gpus"] = gpus
            # no cap on a GPU actor: CUDA reserves far more address space than it uses
            cap = None if gpus else max(self.min_memory_cap_mb, 4 * memory)
            handle = ray.remote(ExpertWorker).options(**options).remote(self._config_dict, backend, model_id,
                                                                        factory, cap)
            actor = self.actors[name] = Actor(name, handle, memory, self.num_cpus, busy=1)
            self.killed.pop(name, None)
            return actor

    def placement(self, media: set[str]) -> dict[str, float]:
        """Custom resources for a task's media, those the cluster declares (else the actor could never start)."""
        have = self.ray().cluster_resources()
        wanted = {self.media_resources[m] for m in media if m in self.media_resources}
        return {r: RESOURCE_UNIT for r in sorted(wanted) if have.get(r)}

    def release(self, actor: Actor, rss: float | None = None, model_id: str | None = None) -> None:
        with self._lock:
            actor.busy = max(0, actor.busy - 1)
            actor.last_used = time.monotonic()
            if rss and model_id:  # what the actor really holds, for the next sizing and the budget
                actor.memory_mb = rss
                self.memory_mb[model_id] = max(0.0, rss - BASE_MB)
                self.measured.add(model_id)

    def learn(self, loads: Any) -> None:
        """Take the memory the controller's own pool measured when it loaded a model (``ExpertPool.loads``), for
        models no actor has measured yet."""
        for record in list(loads):
            if record.model_id not in self.measured and record.rss_delta_mb > 0:
                self.memory_mb[record.model_id] = record.rss_delta_mb

    def node_alive(self, node: str) -> bool:
        """Whether a node is alive: the cluster has not marked it dead and its raylet accepts connections (a node
        that just vanished is still listed as alive for several seconds). True for an unknown node."""
        if not node:
            return True
        try:
            info = next((n for n in self.ray().nodes() if n.get("NodeID") == node), None)
        except Exception:  # noqa: BLE001 - the cluster cannot say: do not call it lost
            return True
        if info is None or not info.get("Alive"):
            return False
        try:
            with socket.create_connection((info["NodeManagerAddress"], int(info["NodeManagerPort"])), timeout=2.0):
                return True
        except (OSError, KeyError, ValueError):
            return False

    def kill(self, actor: Actor, why: str, *, restart: bool = False) -> None:
        """Kill an actor (its running call dies with it). ``restart``: let Ray start it again (same name)."""
        with self._lock:
            if not restart and self.actors.get(actor.name) is actor:
                del self.actors[actor.name]
                self.killed[actor.name] = why
        try:
            self.ray().kill(actor.handle, no_restart=not restart)
        except Exception as exc:  # noqa: BLE001 - already dead, or the cluster is gone: nothing left to stop
            log.info("kill %s: %s", actor.name, exc)
        log.warning("killed expert actor %s (%s)", actor.name, why)

    def forget(self, actor: Actor) -> None:
        """Drop a handle whose actor is dead for good (a new one is made on the next call)."""
        with self._lock:
            if self.actors.get(actor.name) is actor:
                del self.actors[actor.name]

    def _make_room(self, memory_mb: float, cpus: float) -> None:
        """Kill least recently used idle actors while the new one would take the actors past the memory budget, or
        past the cluster's CPUs (an actor that cannot be placed would wait for ever)."""
        def used() -> float:
            return sum(a.memory_mb for a in self.actors.values())

        while used() + memory_mb > self.budget_mb and self._evict_one(f"over the memory budget {self.budget_mb:g}"):
            pass
        while self._cpus_used() + cpus > self._cpus_total() and self._evict_one("to free a CPU for another model"):
            pass

    def make_room_for(self, actor: Actor) -> bool:
        """``actor`` is not running yet: when our actors' CPUs exceed the cluster's (it cannot be placed, rather than
        still starting), kill another idle actor of ours. Whether one was killed."""
        with self._lock:
            if self._cpus_used() <= self._cpus_total():
                return False
            return self._evict_one(f"to place {actor.name}", keep=actor)

    def _evict_one(self, why: str, keep: Actor | None = None) -> bool:
        idle = next((a for a in self.actors.values() if not a.busy and a is not keep), None)
        if idle is None:
            return False
        self.kill(idle, f"least recently used, {why}")
        return True

    def _cpus_used(self) -> float:
        return sum(a.cpus for a in self.actors.values())

    def _cpus_total(self) -> float:
        return float(self.ray().cluster_resources().get("CPU", 0.0))

    def shutdown_actors(self) -> None:
        """Kill every actor this controller knows (tests, and a server shutting down its own local instance)."""
        with self._lock:
            actors = list(self.actors.values())
        for a in actors:
            self.kill(a, "shutdown")


def _init_in_keeper_thread(ray: Any, kwargs: dict[str, Any]) -> None:
    """``ray.init`` in a thread that lives as long as the process. A local instance's processes (GCS, raylet) are
    killed when the *thread* that started them exits (Linux parent-death signal), and runs call this from worker
    threads that end with their event loop; the keeper thread never ends, so the instance stays up."""
    if threading.current_thread() is threading.main_thread():
        ray.init(**kwargs)
        return
    done = threading.Event()
    failure: list[BaseException] = []

    def keep() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            failure.append(exc)
        finally:
            done.set()
        if not failure:
            threading.Event().wait()  # for ever: the Ray processes die with this thread

    threading.Thread(target=keep, name="ray-keeper", daemon=True).start()
    done.wait()
    if failure:
        raise failure[0]


