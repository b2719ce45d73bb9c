"""Backends decide which catalog models can run here and build their experts.

``embedded``: experts whose weights ship in installed packages. ``llm``: the controller LLM doing a text task itself.
Hub backends (transformers, hosted inference, model servers) plug in through the same protocol.
"""

from __future__ import annotations

from typing import Protocol

from .catalog.cards import ModelCard
from .errors import ExpertUnavailable
from .experts.base import Expert
from .experts.pool import ExpertPool
from .experts.registry import embedded_expert_classes
from .llm.base import LLM


class Backend(Protocol):
    """What the selector and the executors use of a backend.

    A backend class may also set ``in_process = True`` when its experts must run in the controller process (they wrap
    the controller's own objects): the Ray engine runs their calls in its worker threads instead of in actors. It is
    optional (absent means False), so it is not a member of the protocol."""

    name: str

    def status(self) -> tuple[bool, str]:
        """Whether the backend can run anything at all here, and why (not)."""
        ...

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        """Whether this backend can run that model here, and why (not)."""
        ...

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        """A loaded expert for the card (may load weights; call from a worker thread). ``request`` is the user's
        request, for backends whose experts word a prompt with it (the controller LLM's); others ignore it."""
        ...


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


class LLMBackend:
    """The controller LLM serving text tasks itself (cards ``llm/<model>``)."""

    name = "llm"
    in_process = True  # its experts wrap the controller's own LLM object

    def __init__(self, llm: LLM | None) -> None:
        self.llm = llm

    def cards(self) -> list[ModelCard]:
        from .experts.llm_expert import POLISH_ID, PolishedSummarizer, llm_model_id, llm_tasks

        if self.llm is None:
            return []
        mid = llm_model_id(self.llm)
        cards = [ModelCard(id=mid, task=t, source="llm", tags=["llm"],
                           description=f"The controller LLM ({self.llm.name}) doing {t} itself.")
                 for t in llm_tasks()]
        cards.append(ModelCard(id=POLISH_ID, task="summarization", source="llm", tags=["llm", "extractive"],
                               description=PolishedSummarizer.description, limitations=PolishedSummarizer.limitations))
        return cards

    def status(self) -> tuple[bool, str]:
        if self.llm is None:
            return False, "no controller LLM configured"
        return True, f"{self.llm.name} ({'capable' if self.llm.capable else 'small: chat and writing only'})"

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        from .experts.llm_expert import ANY_LLM_TASKS, POLISH_ID

        if self.llm is None or card.source != "llm":
            return False, "not served by the LLM"
        if card.id == POLISH_ID:  # rewriting a few given sentences is within a small model's reach
            return True, "MiniLM extraction + controller LLM rewrite"
        if card.task not in ANY_LLM_TASKS and not self.llm.capable:
            return False, f"the controller LLM is too small for {card.task}; configure a capable LLM endpoint"
        return True, "controller LLM"

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        from .experts.llm_expert import POLISH_ID, LLMTaskExpert, PolishedSummarizer

        if self.llm is None:
            raise ExpertUnavailable(f"{card.id} needs the controller LLM, and none is configured.")
        if card.id == POLISH_ID:
            return PolishedSummarizer(self.llm)
        return LLMTaskExpert(self.llm, card.task, request)
