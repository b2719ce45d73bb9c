"""Faulty experts and a way to put them into a real agent.

The experts below misbehave the ways real models do (raise, hang, return garbage, call ``sys.exit``, run out of
memory). ``FaultAgent`` is a real ``HuggingGPT`` whose backends also serve them: planning, selection (through the
``overrides`` setting), the scheduler, the output checks, the artifact store and the responder are the real ones.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hugginggpt.agent import HuggingGPT
from hugginggpt.catalog.cards import ModelCard
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.experts.base import Expert, ExpertOutput, ExpertResult, require_text
from hugginggpt.experts.pool import ExpertPool
from planner_doubles import FixedPlanner

# Set at the end of a test (or benchmark) so that hung worker threads finish instead of lingering.
RELEASE = threading.Event()


class Echo(Expert):
    """A well-behaved expert: returns the text it got, upper-cased."""

    task = "summarization"
    model_id = "faults/echo"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        return ExpertResult.of_text(require_text(inputs).upper())


class Raises(Expert):
    task = "text-classification"
    model_id = "faults/raises"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        raise RuntimeError("weights are corrupted")


class Hangs(Expert):
    """Blocks its worker thread until ``RELEASE`` is set (at most ``hang_s`` seconds)."""

    task = "text-classification"
    model_id = "faults/hangs"
    hang_s = 60.0

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        RELEASE.wait(self.hang_s)
        return ExpertResult.of_text("finally")


class HangsOnLoad(Expert):
    """Hangs while loading its weights (until ``RELEASE``), holding the pool's load lock for its model."""

    task = "text-classification"
    model_id = "faults/hangs-on-load"

    def _load(self) -> None:
        RELEASE.wait(60)

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        return ExpertResult.of_text("loaded at last")


class Sleeps(Expert):
    """Sleeps ``hang_s`` seconds, ignoring everything (a model stuck in native code)."""

    task = "text-classification"
    model_id = "faults/sleeps"
    hang_s = 30.0

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        time.sleep(self.hang_s)
        return ExpertResult.of_text("finally")


class Exits(Expert):
    task = "text-classification"
    model_id = "faults/exits"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        sys.exit(3)


class Interrupts(Expert):
    task = "text-classification"
    model_id = "faults/interrupts"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        raise KeyboardInterrupt


class ExhaustsMemory(Expert):
    """Asks for a petabyte: the allocation fails at once with MemoryError (nothing is touched)."""

    task = "text-classification"
    model_id = "faults/exhausts-memory"

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        buf = bytearray(1 << 50)
        return ExpertResult.of_text(str(len(buf)))


def _returning(name: str, value: Any, task: str = "text-classification") -> type[Expert]:
    def run(self: Expert, inputs: dict[str, Any]) -> Any:
        return value

    return type(f"Returns_{name}", (Expert,), {"task": task, "model_id": f"faults/returns-{name}", "run": run})


ReturnsNone = _returning("none", None)
ReturnsStr = _returning("str", "a plain string")
ReturnsUnknownKind = _returning("unknown-kind", ExpertResult([ExpertOutput("hologram", text="x")]))  # type: ignore[arg-type]
ReturnsMissingData = _returning("missing-data", ExpertResult([ExpertOutput("image", data=None, ext=".png")]))
ReturnsGarbageImage = _returning("garbage-image", ExpertResult([ExpertOutput("image", data=b"\x89PNG not really",
                                                                             ext=".png")]), task="image-segmentation")
ReturnsGarbageAudio = _returning("garbage-audio", ExpertResult([ExpertOutput("audio", data=b"RIFF....WAVEjunk",
                                                                             ext=".wav")]), task="text-to-speech")

def _echo(task: str) -> type[Expert]:
    """A well-behaved expert for ``task`` that reads its input (text or file) and returns a short text."""

    def run(self: Expert, inputs: dict[str, Any]) -> ExpertResult:
        value = next(iter(inputs.values()))
        seen = value.read_bytes()[:4].hex() if isinstance(value, Path) else str(value)[:40]
        return ExpertResult.of_text(f"{task} read {seen}")

    return type(f"Echo_{task}", (Expert,), {"task": task, "model_id": f"faults/echo-{task}", "run": run})


EchoImage = _echo("image-classification")
EchoAudio = _echo("automatic-speech-recognition")

ALL_FAULTS: tuple[type[Expert], ...] = (
    Echo, EchoImage, EchoAudio, Raises, Hangs, HangsOnLoad, Sleeps, Exits, Interrupts, ExhaustsMemory, ReturnsNone,
    ReturnsStr, ReturnsUnknownKind, ReturnsMissingData, ReturnsGarbageImage, ReturnsGarbageAudio)


class FaultBackend:
    """Serves the fault experts through the agent's real pool (so leases and eviction apply to them too)."""

    name = "faults"

    def __init__(self, pool: ExpertPool, classes: Sequence[type[Expert]]) -> None:
        self.pool = pool
        self.classes = {c.model_id: c for c in classes}

    def status(self) -> tuple[bool, str]:
        return True, f"{len(self.classes)} fault experts"

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        return (card.id in self.classes), "fault expert"

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        return self.pool.get(self.classes[card.id])


class FaultAgent(HuggingGPT):
    """A real agent whose catalog and backends also hold ``classes``; the planner returns ``plan``."""

    def __init__(self, plan: list[dict[str, Any]], tmp_path: Path, *, classes: Sequence[type[Expert]] = ALL_FAULTS,
                 llm: Any | None = None, **config: Any) -> None:
        config.setdefault("workspace", tmp_path / "ws")
        config.setdefault("allowed_dirs", [tmp_path])
        super().__init__(HuggingGPTConfig(**config), llm=llm, planner=FixedPlanner(plan), base_dir=tmp_path)
        self.fault_classes = list(classes)
        for cls in self.fault_classes:
            self.catalog.add(ModelCard(id=cls.model_id, task=cls.task, source="user", description="fault test"))

    def backends(self, llm: Any | None = None) -> list[Any]:
        return [FaultBackend(self.pool, self.fault_classes), *super().backends(llm)]
