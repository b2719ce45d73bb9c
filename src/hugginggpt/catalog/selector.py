"""Model selection: filter by task and availability, rank, top-k, let a capable LLM choose in one call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, get_args

from ..config import ModelChoiceMode
from ..errors import ModelSelectionError
from ..experts.hub.errors import ways_to_serve
from ..experts.hub.tasks import NOT_COVERED, hosted
from ..llm.base import LLM
from ..plan_schema import Plan, TaskSpec
from ..results import ModelChoice
from ..tasks import default_registry
from .cards import Catalog, ModelCard
from .choose import choose_models

log = logging.getLogger(__name__)

# Offline models first (no network, no download), then the LLM, then hub models by popularity.
_SOURCE_RANK = {"user": 0, "embedded": 1, "llm": 2, "hub": 3}
# Who picks among a task's candidates: ``local_first`` asks the LLM only where the top-ranked model is a hub model;
# ``llm`` asks it wherever a task has more than one candidate (the config's ``model_choice``).
MODEL_CHOICES: tuple[str, ...] = get_args(ModelChoiceMode)


class CardServer(Protocol):
    """What the selector asks of a backend (``backends.Backend`` has it): its name, and whether it serves a card."""

    name: str

    def can_serve(self, card: ModelCard) -> tuple[bool, str]: ...


@dataclass
class Candidate:
    card: ModelCard
    backend: str
    reason: str


class Selector:
    """Picks a model and backend for every task of a plan.

    ``backends`` are tried in order for each card; the first that can serve it wins. When a capable LLM is given,
    it chooses in ONE call for every task it is asked about; otherwise (or if that call fails) the top-ranked
    candidate wins. With ``choice="local_first"`` (the default) it is asked about a task only when the task has
    more than one candidate and the top-ranked one is a hub model: a model that runs here without the hub (your
    catalog entry, an embedded expert, the controller LLM itself) is kept without a call, as JARVIS keeps the LLM
    for its text tasks and local ControlNet models for the control tasks. With ``choice="llm"`` it is asked about
    every task with more than one candidate.
    """

    def __init__(self, catalog: Catalog, backends: Sequence[CardServer], *, llm: LLM | None = None, top_k: int = 5,
                 overrides: dict[str, str] | None = None, choice: str = "local_first") -> None:
        if choice not in MODEL_CHOICES:
            raise ValueError(f"choice must be one of {MODEL_CHOICES}, not {choice!r}")
        self.catalog = catalog
        self.backends = list(backends)
        self.llm = llm
        self.top_k = top_k
        self.overrides = overrides or {}
        self.choice = choice

    def asks_llm(self, cands: Sequence[Candidate]) -> bool:
        """Whether the LLM is asked to choose among these ranked candidates (see the class's docstring)."""
        return len(cands) > 1 and (self.choice == "llm" or cands[0].card.source == "hub")

    def candidates(self, task: str) -> tuple[list[Candidate], list[str]]:
        """Available candidates for a task, best first, and the reasons others were rejected."""
        found: list[Candidate] = []
        rejected: list[str] = []
        cards = sorted(self.catalog.for_task(task), key=lambda c: (_SOURCE_RANK[c.source], -c.likes, -c.downloads))
        forced = self.overrides.get(task)
        if forced:
            cards = [c for c in cards if c.id == forced] or cards
        for card in cards:
            why = []
            for backend in self.backends:
                ok, reason = backend.can_serve(card)
                if ok:
                    found.append(Candidate(card, backend.name, reason))
                    break
                why.append(f"{backend.name}: {reason}")
            else:
                rejected.append(f"{card.id} ({'; '.join(why) or 'no backend'})")
        return found, rejected

    def select(self, plan: Plan, request: str = "") -> dict[int, ModelChoice | ModelSelectionError]:
        out: dict[int, ModelChoice | ModelSelectionError] = {}
        ranked: dict[int, list[Candidate]] = {}
        for spec in plan.tasks:
            cands, rejected = self.candidates(spec.task)
            if not cands:
                out[spec.id] = self._no_model(spec, rejected)
                continue
            ranked[spec.id] = cands[: self.top_k]
        choose = {tid: c for tid, c in ranked.items() if self.asks_llm(c)}
        llm_pick: dict[int, tuple[str, str]] = {}
        if choose and self.llm is not None and self.llm.capable:
            llm_pick = self._ask_llm(plan, choose, request)
        for tid, cands in ranked.items():
            spec = plan.by_id()[tid]
            pick, reason = cands[0], None
            if tid in llm_pick:
                mid, why = llm_pick[tid]
                match = next((c for c in cands if c.card.id == mid), None)
                if match:
                    pick, reason = match, f"chosen by the LLM: {why}"
            if reason is None:
                reason = _rank_reason(pick, cands)
            out[tid] = ModelChoice(task_id=tid, task=spec.task, model_id=pick.card.id, backend=pick.backend,
                                   reason=reason, candidates=[c.card.id for c in cands])
        return out

    def _ask_llm(self, plan: Plan, choose: dict[int, list[Candidate]], request: str) -> dict[int, tuple[str, str]]:
        if self.llm is None:
            return {}
        by_id = plan.by_id()
        try:
            return choose_models(self.llm, [(by_id[tid], [c.card.brief() for c in cands])
                                            for tid, cands in choose.items()], request=request)
        except Exception as exc:  # noqa: BLE001 - the ranking is a safe fallback
            log.warning("LLM model choice failed, using the top rank: %s", exc)
            return {}

    def _no_model(self, spec: TaskSpec, rejected: list[str]) -> ModelSelectionError:
        """The error for a task nothing here serves: it names each backend and model that would, with the setting
        to change (``experts/hub/errors.ways_to_serve``)."""
        hub = [c.id for c in self.catalog.for_task(spec.task) if c.source == "hub"][:5]
        registry = default_registry()
        ways = ways_to_serve(spec.task, hub, local=spec.task not in NOT_COVERED, hosted=spec.task in hosted(),
                             llm_task=spec.task in registry and registry.get(spec.task).llm)
        detail = f" Tried: {'; '.join(rejected[:3])}." if rejected and not hub else ""
        return ModelSelectionError(
            f"No offline model for {spec.task} (task {spec.id}).{detail}",
            hint="It would run on " + "; or on ".join(ways) + "." if ways else
            f"No backend or model here is known to serve {spec.task}; add one with catalog_file.")


def _rank_reason(pick: Candidate, cands: list[Candidate]) -> str:
    if len(cands) == 1:
        return f"the only available model for this task ({pick.backend})"
    src = {"embedded": "runs offline from an installed package", "llm": "the controller LLM",
           "hub": f"most liked available hub model ({pick.card.likes} likes)", "user": "your catalog entry"}
    return f"top ranked of {len(cands)}: {src.get(pick.card.source, pick.card.source)}"
