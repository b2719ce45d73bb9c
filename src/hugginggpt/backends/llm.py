"""The ``llm`` backend: the controller LLM doing a text task itself (cards ``llm/<model>``)."""

from __future__ import annotations

from ..catalog.cards import ModelCard
from ..errors import ExpertUnavailable
from ..experts.base import Expert
from ..experts.llm_expert import ANY_LLM_TASKS, POLISH_ID, LLMTaskExpert, PolishedSummarizer, llm_model_id, llm_tasks
from ..llm.base import LLM


class LLMBackend:
    """The controller LLM serving text tasks itself (cards ``llm/<model>``)."""

    name = "llm"
    in_process = True  # its experts wrap the controller's own LLM object

    def __init__(self, llm: LLM | None) -> None:
        self.llm = llm

    def cards(self) -> list[ModelCard]:
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
        if self.llm is None or card.source != "llm":
            return False, "not served by the LLM"
        if card.id == POLISH_ID:  # rewriting a few given sentences is within a small model's reach
            return True, "MiniLM extraction + controller LLM rewrite"
        if card.task not in ANY_LLM_TASKS and not self.llm.capable:
            return False, f"the controller LLM is too small for {card.task}; configure a capable LLM endpoint"
        return True, "controller LLM"

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        if self.llm is None:
            raise ExpertUnavailable(f"{card.id} needs the controller LLM, and none is configured.")
        if card.id == POLISH_ID:
            return PolishedSummarizer(self.llm)
        return LLMTaskExpert(self.llm, card.task, request)
