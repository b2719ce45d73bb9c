"""Faulty experts for the Ray engine, and the backend that serves them in a Ray worker process.

The controller and the Ray workers both import this module by the name ``ray_fault_experts`` (this directory is on
the workers' PYTHONPATH, see ray_support.py). The backend names ``worker_factory``, so a Ray actor builds the same
backend in its own process from the configuration: nothing is pickled but the config, the card and the inputs.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faults.fault_experts import FaultBackend
from hugginggpt.agent import HuggingGPT
from hugginggpt.catalog.cards import ModelCard
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.experts.base import Expert, ExpertResult, require_text
from hugginggpt.experts.pool import ExpertPool
from planner_doubles import FixedPlanner


class Echo(Expert):
    """Well-behaved: the text upper-cased, with the worker's pid (to tell actors apart)."""

    task = "summarization"
    model_id = "rayfaults/echo"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        return ExpertResult.of_text(require_text(inputs).upper(), pid=os.getpid())


class Aborts(Expert):
    """abort(3) on its first call in a process; a restarted process answers (a crash that a restart cures)."""

    task = "text-classification"
    model_id = "rayfaults/aborts"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        if require_text(inputs) == "crash":
            os.abort()
        return ExpertResult.of_text("survived", pid=os.getpid())


class Segfaults(Expert):
    task = "token-classification"
    model_id = "rayfaults/segfaults"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        if require_text(inputs) == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
            time.sleep(5)
        return ExpertResult.of_text("survived", pid=os.getpid())


class Spins(Expert):
    """A hang that burns a CPU (a model stuck in a native loop): only killing its process stops it."""

    task = "text-generation"
    model_id = "rayfaults/spins"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        if require_text(inputs) != "hang":
            return ExpertResult.of_text("quick", pid=os.getpid())
        end = time.monotonic() + 300
        n = 0
        while time.monotonic() < end:
            n += 1
        return ExpertResult.of_text(str(n))


class EatsMemory(Expert):
    """Allocates and touches memory 64 MiB at a time, up to 8 GiB (the actor's memory cap stops it first)."""

    task = "feature-extraction"
    model_id = "rayfaults/eats-memory"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        chunks = []
        for _ in range(128):
            chunks.append(b"\x01" * (64 << 20))
        return ExpertResult.of_text(f"held {len(chunks) * 64} MiB")


class ReadsImage(Expert):
    """Reads its image input: its size and first bytes, and the node it ran on (placement tests)."""

    task = "image-classification"
    model_id = "rayfaults/reads-image"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path = Path(inputs["image"])
        data = path.read_bytes()
        return ExpertResult.of_text(f"{len(data)} bytes {data[:4].hex()}", node=_node(), pid=os.getpid())


class ReadsAudio(Expert):
    task = "automatic-speech-recognition"
    model_id = "rayfaults/reads-audio"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        data = Path(inputs["audio"]).read_bytes()
        return ExpertResult.of_text(f"{len(data)} bytes {data[:4].hex()}", node=_node(), pid=os.getpid())


class SlowText(Expert):
    """Takes ``inputs['text']`` seconds (a float), then answers with its node (node-loss tests)."""

    task = "translation"
    model_id = "rayfaults/slow-text"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        time.sleep(float(require_text(inputs)))
        return ExpertResult.of_text("slept", node=_node(), pid=os.getpid())


class SlowAudio(Expert):
    """Listens for 8 seconds (long enough to lose its node meanwhile), then answers with its node."""

    task = "audio-classification"
    model_id = "rayfaults/slow-audio"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        time.sleep(8)
        return ExpertResult.of_text("listened", node=_node(), pid=os.getpid())


def _node() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


ALL: tuple[type[Expert], ...] = (Echo, Aborts, Segfaults, Spins, EatsMemory, ReadsImage, ReadsAudio, SlowText,
                                 SlowAudio)


class RayFaultBackend(FaultBackend):
    """The fault backend of tests/faults serving the experts above; ``worker_factory`` rebuilds it in a Ray worker
    process."""

    name = "ray-faults"
    worker_factory = "ray_fault_experts:worker_backend"

    def __init__(self, pool: ExpertPool, classes: Sequence[type[Expert]] = ALL) -> None:
        super().__init__(pool, classes)


def worker_backend(config: HuggingGPTConfig, pool: ExpertPool) -> RayFaultBackend:
    return RayFaultBackend(pool)


class RayFaultAgent(HuggingGPT):
    """A real agent (engine from the config) whose catalog and backends also hold the experts above."""

    def __init__(self, plan: list[dict[str, Any]], tmp_path: Path, *, llm: Any | None = None, **config: Any) -> None:
        config.setdefault("workspace", tmp_path / "ws")
        config.setdefault("allowed_dirs", [tmp_path])
        super().__init__(HuggingGPTConfig(**config), llm=llm, planner=FixedPlanner(plan), base_dir=tmp_path)
        for cls in ALL:
            self.catalog.add(ModelCard(id=cls.model_id, task=cls.task, source="user", description="fault test"))

    def backends(self, llm: Any | None = None) -> list[Any]:
        return [RayFaultBackend(self.pool), *super().backends(llm)]
