"""Model cards: the bundled hub catalog (facts from JARVIS's list), the embedded experts, and user entries."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from ..errors import ConfigError
from ..experts.registry import embedded_expert_classes


class ModelCard(BaseModel):
    """What the selector knows about a model."""

    id: str
    task: str
    downloads: int = 0
    likes: int = 0
    tags: list[str] = Field(default_factory=list)
    license: str | None = None
    languages: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    library: str | None = None
    source: Literal["hub", "embedded", "llm", "user"] = "hub"
    description: str = ""
    limitations: str = ""
    real_model: str = ""
    path: str | None = Field(None, description="Local directory of a user model.")

    def brief(self) -> dict[str, object]:
        """What the LLM sees when choosing: facts, no prose beyond our own one-line description."""
        out: dict[str, object] = {"id": self.id, "likes": self.likes, "downloads": self.downloads,
                                  "tags": self.tags[:8]}
        if self.description:
            out["description"] = self.description[:100]
        return out


@lru_cache(maxsize=1)
def hub_cards() -> tuple[ModelCard, ...]:
    text = resources.files("hugginggpt.catalog").joinpath("data/hub_models.json").read_text(encoding="utf-8")
    return tuple(ModelCard(**row, source="hub") for row in json.loads(text))


def embedded_cards() -> list[ModelCard]:
    return [
        ModelCard(id=c.model_id, task=c.task, license=c.license or None, source="embedded",
                  description=c.description, limitations=c.limitations, real_model=c.real_model,
                  tags=["embedded", "offline"])
        for c in embedded_expert_classes()
    ]


def user_cards(path: Path) -> list[ModelCard]:
    """Cards from a user YAML: a list of ``{id, task, ...}`` mappings (private, fine-tuned or local models)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read the model catalog file {str(path)!r}: {exc}.",
                          hint="Give a YAML list of {id, task, ...} entries.") from exc
    if not isinstance(raw, list):
        raise ConfigError(f"{str(path)!r} must hold a YAML list of model entries.")
    return [ModelCard(**{**row, "source": "user"}) for row in raw]


class Catalog:
    """All known model cards, by task."""

    def __init__(self, cards: list[ModelCard]) -> None:
        self.cards = list(cards)
        self._by_id = {c.id: c for c in self.cards}

    @classmethod
    def default(cls, extra: list[ModelCard] | None = None) -> Catalog:
        return cls([*embedded_cards(), *(extra or []), *hub_cards()])

    def add(self, card: ModelCard) -> None:
        self.cards.insert(0, card)
        self._by_id[card.id] = card

    def get(self, model_id: str) -> ModelCard | None:
        return self._by_id.get(model_id)

    def card_for(self, model_id: str, task: str) -> ModelCard | None:
        """The card of ``model_id`` for ``task``: one model may serve several tasks with a card each (the controller
        LLM: text-generation, conversational, ...), and what it runs depends on the task's card."""
        card = self._by_id.get(model_id)
        if card is None or card.task == task:
            return card
        return next((c for c in self.cards if c.id == model_id and c.task == task), card)

    def for_task(self, task: str) -> list[ModelCard]:
        return [c for c in self.cards if c.task == task]

    def tasks(self) -> list[str]:
        return sorted({c.task for c in self.cards})
