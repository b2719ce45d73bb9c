"""The price of a run's controller-LLM tokens, from the ``costs.prices`` table of the configuration.

One function, :func:`run_cost`, prices a run's ``usage`` (``RunResult.usage``: prompt and completion tokens, the
model that spent them); the CLI's run report and ``hugginggpt runs`` both use it. Cost accounting is off while the
table is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PER = 1_000_000  # prices are per million tokens


@dataclass(frozen=True)
class Cost:
    """The price of one run's tokens. ``priced`` is False when the model has no entry in the table (the amount is
    then unknown, not zero), unless the run spent no token at all."""

    model: str | None
    prompt_tokens: int
    completion_tokens: int
    amount: float | None

    @property
    def priced(self) -> bool:
        return self.amount is not None

    def label(self) -> str:
        """``"0.001234"`` (six decimals: a run costs fractions of a cent), or ``"-"`` when not priced."""
        return f"{self.amount:.6f}" if self.amount is not None else "-"


def llm_model_name(llm: Any) -> str | None:
    """The name an LLM is priced under: its model (the endpoint's model name, the GGUF) or else its backend name."""
    if llm is None:
        return None
    model = getattr(llm, "model", None)
    return str(model) if model else (str(getattr(llm, "name", "")) or None)


def run_cost(usage: Mapping[str, Any] | None, prices: Mapping[str, tuple[float, float]]) -> Cost | None:
    """What the run's tokens cost: prompt tokens x the model's prompt price + completion tokens x its completion
    price, per million. ``None`` while ``prices`` is empty (accounting off). The model is the one the usage names
    (``usage["model"]``)."""
    if not prices:
        return None
    usage = usage or {}
    name = usage.get("model")
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    price = prices.get(name) if name else None
    if price is None:
        amount = 0.0 if prompt == completion == 0 else None
    else:
        amount = (prompt * float(price[0]) + completion * float(price[1])) / PER
    return Cost(model=name, prompt_tokens=prompt, completion_tokens=completion, amount=amount)
