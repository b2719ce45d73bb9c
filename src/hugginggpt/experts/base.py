"""The expert contract: a task, a model id, a lazy ``load()`` and a synchronous ``run(inputs)``.

Inputs arrive already resolved: text slots as ``str``, media slots as a local ``Path`` to a file the expert may read.
Outputs are returned as bytes (or text) with their media kind; the scheduler stores them as artifacts. Experts raise
``ExpertInputError`` for wrong or broken inputs and ``ExpertUnavailable`` when they cannot load here.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..errors import ExpertInputError
from ..payloads import Payload

OutputKind = Literal["text", "image", "audio", "video", "json"]


@dataclass
class ExpertOutput:
    """One produced value. Text outputs set ``text``; media outputs set ``data`` and ``ext`` (e.g. ``.png``)."""

    kind: OutputKind
    text: str | None = None
    data: bytes | None = None
    ext: str | None = None


@dataclass
class ExpertResult:
    """What an expert returns: its outputs (first of each kind is what ``<GENERATED>-k`` resolves to) and
    structured facts (labels, scores, boxes...) that the responder can quote.

    ``payload``: the typed form of those facts (``payloads.Labels``, ``Boxes``...) when the expert built one with
    ``of``. It lives only in this process; the facts are what travels (as JSON), and consumers read them back with
    ``<Payload>.from_facts(result.data)``."""

    outputs: list[ExpertOutput]
    data: dict[str, Any] = field(default_factory=dict)
    payload: Payload | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, payload: Payload, *media: ExpertOutput, text: str | None = None, media_first: bool = False,
           **facts: Any) -> ExpertResult:
        """A result from a payload: its ``text()`` (or ``text``) as the text output, next to ``media`` (before it
        with ``media_first``), and its ``facts()`` plus any extra ``facts``."""
        said = ExpertOutput("text", text=payload.text() if text is None else text)
        return cls([*media, said] if media_first else [said, *media], {**payload.facts(), **facts}, payload)

    @classmethod
    def of_text(cls, text: str, **data: Any) -> ExpertResult:
        return cls([ExpertOutput("text", text=text)], data)


@dataclass(frozen=True)
class ExpertCard:
    """Facts about an embedded expert shown in the catalog and ``hugginggpt models``."""

    model_id: str
    task: str
    backend: str
    license: str
    description: str
    real_model: str = ""
    packages: tuple[str, ...] = ()
    limitations: str = ""
    deterministic: bool = False


class Expert(ABC):
    """Base class of every expert. Subclasses set the class attributes and implement ``_load`` and ``run``.

    ``task`` and ``model_id`` are the expert's identity: class attributes for an expert of one model (the embedded
    ones), instance attributes set in ``__init__`` by experts that a backend builds from a catalog card."""

    task: str
    model_id: str
    backend: ClassVar[str] = "embedded"
    license: ClassVar[str] = ""
    description: ClassVar[str] = ""
    real_model: ClassVar[str] = ""
    limitations: ClassVar[str] = ""
    # Same inputs, same output bytes (checked by running twice in two processes): its results may be reused from the
    # result cache (execution/cache.py). False for anything that samples (an LLM, diffusion with a random seed).
    deterministic: ClassVar[bool] = False
    # Python modules that must be importable for the expert to work (checked without importing them).
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._loaded = False

    @classmethod
    def card(cls) -> ExpertCard:
        return ExpertCard(cls.model_id, cls.task, cls.backend, cls.license, cls.description, cls.real_model,
                          cls.requires, cls.limitations, cls.deterministic)

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """Cheap check (no model load): are the packages this expert needs installed?"""
        missing = [m for m in cls.requires if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"missing Python package(s): {', '.join(missing)}"
        return True, "installed"

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        """Load weights once; later calls are no-ops. Raises ``ExpertUnavailable`` with the reason on failure."""
        if not self._loaded:
            self._load()
            self._loaded = True

    def unload(self) -> None:
        self._unload()
        self._loaded = False

    def _load(self) -> None:  # pragma: no cover - trivial default
        return None

    def _unload(self) -> None:
        """Drop references to weights so memory can be reclaimed. Override when ``_load`` holds more."""
        for name in list(vars(self)):
            if name.startswith("_model") or name.endswith("_model"):
                setattr(self, name, None)

    @abstractmethod
    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        """Run on resolved inputs (slot -> ``str`` for text, ``Path`` for media)."""


def require_text(inputs: dict[str, Any], slot: str = "text") -> str:
    value = inputs.get(slot)
    if not isinstance(value, str) or not value.strip():
        raise ExpertInputError(f"Slot {slot!r} needs non-empty text, got {type(value).__name__}.",
                               hint="Give the text in the request or feed it from a text-producing task.")
    return value


def require_file(inputs: dict[str, Any], slot: str) -> Path:
    value = inputs.get(slot)
    if not isinstance(value, Path) or not value.is_file():
        raise ExpertInputError(f"Slot {slot!r} needs a file, got {value!r}.",
                               hint="Give an existing file with --file or feed it from an earlier task.")
    return value
