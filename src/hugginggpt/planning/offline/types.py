"""The values task detection hands to graph building: detections and the inputs available besides the request."""

from __future__ import annotations

from dataclasses import dataclass, field

from .text import Resource


@dataclass(frozen=True)
class Detection:
    """One task the request asks for, at ``start:end`` of the request (the words that asked for it)."""

    task: str
    start: int
    end: int
    capture: str | None = None  # a text argument given with the trigger ("draw a cat" -> "a cat")
    labels: str | None = None  # candidate labels (zero-shot classification)
    question: str | None = None  # the question, for question-answering tasks
    from_image: bool = False  # "a picture like this one": the text is a caption of the image referred to
    clause_words: bool = False  # ``capture`` is the whole clause (the learned detector's guess), not a trigger's


@dataclass(frozen=True)
class Available:
    """Inputs that exist besides the request text: media of attached files and of earlier outputs."""

    user_media: frozenset[str] = frozenset()
    history_media: frozenset[str] = frozenset()
    context: tuple[Resource, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ToolInfo:
    """What a detector may know about a tool: its name, description and typed inputs/outputs."""

    name: str
    description: str
    inputs: tuple[tuple[str, str], ...]  # (slot, media) pairs
    outputs: tuple[str, ...]

    @property
    def input_media(self) -> set[str]:
        """Non-text media the tool consumes (the files it needs)."""
        return {m for _, m in self.inputs if m != "text"}
