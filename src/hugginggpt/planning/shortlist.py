"""The tasks worth showing the LLM planner for one request: a recall-first shortlist ranked offline.

The LLM planner's prompt used to list the typed signature of every task (38 in our registry, about 590 of its 1,320
prompt tokens). Most requests need one to three of them, and the offline planner already knows which tasks a
request is likely to ask for. ``TaskShortlist`` ranks every task of the registry for a request from three signals,
each optional:

1. **the offline plan** (``OfflinePlanner.plan``: the keyword rules, plus the learned detector where a shipped model
   knows the registry): its tasks are always kept;
2. **the learned tool scores** (``OfflinePlanner.learned_for(registry)``: the learned detector's probability of each
   tool, before any threshold): the ``learned_k`` best;
3. **sentence similarity** between the request (and each of its sentences and clauses) and each task's name and
   description or example phrasings (MiniLM, the embedder the experts already ship): the ``similar_k`` best. This
   ranks when no learned model fits the registry.

The shortlist is the union, so a task needs only one signal to get in (recall first: a task missing from the
prompt cannot be planned; an extra one costs about 15 tokens). Each signal keeps ``per_planned`` more tasks per
task of the offline plan, and ``min_tasks`` pads the list by the combined rank. The defaults were chosen on the dev
sets (TaskBench dev, wording dev); recall and sizes are in docs/tokens.md. Whenever
no signal is available (the embedder is not installed, the offline planner fails in an unexpected way), ``select``
returns None and the planner shows every task, as before.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..embedding import get_minilm
from ..errors import PlanError
from ..tasks import TaskRegistry
from .base import PlanContext

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
_UNSET: Any = object()


@dataclass(frozen=True)
class Ranking:
    """Why each task of a shortlist is there: the offline plan's tasks, then learned and similarity scores."""

    planned: tuple[str, ...]
    learned: dict[str, float]
    similar: dict[str, float]


def _default_embed() -> Embed | None:
    """The shared MiniLM ``embed`` function, or None when it cannot be loaded."""
    try:
        return get_minilm().embed
    except Exception as exc:  # noqa: BLE001 - a failed load (onnxruntime or a model package missing): no similarity signal
        log.info("sentence embedder unavailable for the task shortlist: %s", exc)
        return None


class TaskShortlist:
    """Ranks a registry's tasks for a request and keeps a recall-first shortlist (see the module docstring).

    ``offline`` is the offline planner whose plan and learned scores are used (built on first use; pass one to share
    its cached detectors). ``embed`` maps texts to unit vectors (default: MiniLM; None: no similarity signal).
    """

    def __init__(self, registry: TaskRegistry, *, offline: Any = None, embed: Embed | None = _UNSET,
                 learned_k: int = 6, similar_k: int = 4, min_tasks: int = 8, per_planned: int = 1) -> None:
        self.registry = registry
        self._offline = offline
        self._embed = embed
        self.learned_k = learned_k
        self.similar_k = similar_k
        self.min_tasks = min_tasks
        self.per_planned = per_planned
        self._task_vectors: np.ndarray | None = None
        self._owner = np.zeros(0, dtype=np.int64)

    # -- signals ------------------------------------------------------------------------------------------------

    def _offline_planner(self) -> Any:
        if self._offline is None:
            from .offline_planner import OfflinePlanner

            self._offline = OfflinePlanner(self.registry)
        return self._offline

    def _embedder(self) -> Embed | None:
        if self._embed is _UNSET:
            self._embed = _default_embed()
        return self._embed

    def planned(self, request: str, context: PlanContext) -> tuple[str, ...] | None:
        """The offline plan's tasks (empty when it plans nothing or needs an input); None when it is unavailable."""
        try:
            outcome = self._offline_planner().plan(request, PlanContext(
                registry=self.registry, files=list(context.files), history=list(context.history),
                max_tasks=context.max_tasks))
        except PlanError:
            return ()  # e.g. a missing input: the rules found tasks but could not fill them; the scores still rank
        except Exception as exc:  # noqa: BLE001 - the offline planner changes often; never let it stop planning
            log.warning("offline plan unavailable for the shortlist: %s", exc)
            return None
        return tuple(dict.fromkeys(t.task for t in outcome.plan.tasks if t.task in self.registry))

    def learned(self, request: str, planned: Sequence[str]) -> dict[str, float]:
        """The learned detector's probability per task (before its threshold); empty when no model fits.

        Uses the learned path's scorer (``learned_for(registry).planner.probabilities``); any change of that API
        only costs this signal.
        """
        try:
            path = self._offline_planner().learned_for(self.registry)
            if path is None:
                return {}
            from .offline.features import request_features

            feats = request_features(request, path.planner.embed)
            probs, _ = path.planner.probabilities(feats, path.rule_vector(list(planned)))
            names = [path.task_of.get(s.name, s.name) for s in path.sigs]
        except Exception as exc:  # noqa: BLE001 - a learned model is an optional signal
            log.info("learned tool scores unavailable for the shortlist: %s", exc)
            return {}
        return {n: float(p) for n, p in zip(names, np.asarray(probs).ravel(), strict=False) if n in self.registry}

    def similar(self, request: str) -> dict[str, float]:
        """Per task, the best cosine similarity between the request or one of its parts and the task's name and
        description or one of its example phrasings; empty without embedder."""
        embed = self._embedder()
        if embed is None:
            return {}
        try:
            if self._task_vectors is None:
                texts, owner = self._task_texts()
                self._task_vectors = np.asarray(embed(texts), dtype=np.float32)
                self._owner = np.asarray(owner)
            query = np.asarray(embed([request, *request_parts(request)]), dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - an embedder failure only costs this signal
            log.info("similarity scores unavailable for the shortlist: %s", exc)
            return {}
        best = (query @ self._task_vectors.T).max(axis=0)
        names = [t.name for t in self.registry]
        out = dict.fromkeys(names, -1.0)
        for row, score in zip(self._owner, best, strict=True):
            out[names[row]] = max(out[names[row]], float(score))
        return out

    def _task_texts(self) -> tuple[list[str], list[int]]:
        """Every task's name and description, then its example phrasings (those the learned detector's prototypes
        use, when they can be loaded), with the index of the task each text belongs to."""
        tasks = list(self.registry)
        texts = [f"{t.name.replace('-', ' ')}. {t.description}" for t in tasks]
        owner = list(range(len(tasks)))
        try:
            from .offline.learned import load_phrases
            from .offline.learned_path import registry_phrases

            phrases = registry_phrases(self.registry, load_phrases())
        except Exception as exc:  # noqa: BLE001 - the phrasings only sharpen the similarity
            log.info("example phrasings unavailable for the shortlist: %s", exc)
            phrases = {}
        for i, t in enumerate(tasks):
            extra = [str(p) for p in phrases.get(t.name, ())]
            texts += extra
            owner += [i] * len(extra)
        return texts, owner

    # -- the shortlist ------------------------------------------------------------------------------------------

    def rank(self, request: str, context: PlanContext | None = None) -> Ranking | None:
        """Every signal for ``request``; None when there is none (then show every task)."""
        context = context or PlanContext(registry=self.registry)
        planned = self.planned(request, context)
        learned = self.learned(request, planned or ())
        similar = self.similar(request)
        if planned is None and not learned and not similar:
            return None
        return Ranking(planned or (), learned, similar)

    def select(self, request: str, context: PlanContext | None = None) -> list[str] | None:
        """The shortlisted task names, in registry order; None (every task) when no ranking is available."""
        ranking = self.rank(request, context)
        if ranking is None:
            return None
        return self.from_ranking(ranking)

    def from_ranking(self, ranking: Ranking) -> list[str]:
        """The union of the offline plan's tasks and the best-scored ones, padded to ``min_tasks``. Each signal
        keeps ``per_planned`` more tasks for every task of the offline plan: a request that asks for many things
        is where a signal's top few miss one."""
        keep = set(ranking.planned)
        extra = self.per_planned * len(ranking.planned)
        keep |= set(_top(ranking.learned, self.learned_k + extra))
        keep |= set(_top(ranking.similar, self.similar_k + extra))
        if len(keep) < self.min_tasks:
            for name in _top(_combined(ranking, self.registry), len(self.registry)):
                if len(keep) >= self.min_tasks:
                    break
                keep.add(name)
        return [t.name for t in self.registry if t.name in keep]


_PARTS = re.compile(r"[.;!?]+\s+|,?\s+(?:and then|then|and also|and|also)\s+", re.IGNORECASE)


def request_parts(request: str, limit: int = 8) -> list[str]:
    """The request's sentences and ``and`` / ``then`` clauses (the first ``limit``), each compared on its own: a
    request that asks for three things embeds as a blur of them, its parts each as one."""
    parts = [p.strip() for p in _PARTS.split(request) if len(p.strip()) > 3]
    return parts[:limit] if len(parts) > 1 else []


def _top(scores: dict[str, float], k: int) -> list[str]:
    return [name for name, _ in sorted(scores.items(), key=lambda kv: -kv[1])[:k]]


def _combined(ranking: Ranking, registry: TaskRegistry) -> dict[str, float]:
    """One order over every task for padding: mean of each available signal's rank (planned tasks first)."""
    names = [t.name for t in registry]
    out = {}
    orders = [{n: i for i, n in enumerate(_top(s, len(s)))} for s in (ranking.learned, ranking.similar) if s]
    for name in names:
        ranks = [o.get(name, len(names)) for o in orders] or [len(names)]
        out[name] = -(sum(ranks) / len(ranks)) + (len(names) if name in ranking.planned else 0)
    return out


_SHARED: dict[int, tuple[TaskRegistry, TaskShortlist]] = {}
_SHARED_LOCK = threading.Lock()


def shortlist_for(registry: TaskRegistry) -> TaskShortlist:
    """The process-wide shortlist of a registry (its offline planner and embedded task texts built once; the
    registry is kept with it so that a recycled ``id()`` never matches)."""
    with _SHARED_LOCK:
        cached = _SHARED.get(id(registry))
        if cached is None or cached[0] is not registry:
            if len(_SHARED) >= 16:  # registries are few and long-lived; bound it anyway
                _SHARED.clear()
            cached = _SHARED[id(registry)] = (registry, TaskShortlist(registry))
        return cached[1]
