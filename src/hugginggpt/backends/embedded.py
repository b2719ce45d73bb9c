"""The ``embedded`` backend: experts whose weights ship in installed packages (no network)."""

from __future__ import annotations

from ..catalog.cards import ModelCard
from ..experts.base import Expert
from ..experts.pool import ExpertPool
from ..experts.registry import embedded_expert_classes


class EmbeddedBackend:
    """Experts from packages, no network. Instances live in the LRU pool."""

    name = "embedded"

    def __init__(self, pool: ExpertPool) -> None:
        self.pool = pool
        self._classes = {c.model_id: c for c in embedded_expert_classes()}

    def status(self) -> tuple[bool, str]:
        ok = [c for c in self._classes.values() if c.availability()[0]]
        return bool(ok), f"{len(ok)} of {len(self._classes)} embedded experts installed"

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        cls = self._classes.get(card.id)
        if cls is None:
            return False, "not an embedded model"
        return cls.availability()

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        return self.pool.get(self._classes[card.id])
