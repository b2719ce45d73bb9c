"""The wording evaluation: requests written the many ways people ask, each with the plan it should get.

Three sets live in ``data/wording/``: ``dev.yaml`` (for tuning), ``heldout.yaml`` (never tuned on) and
``jarvis_examples.yaml`` (the original system's own example requests). Each item is ``{id, request, files, user,
style, plan}``; ``files`` are ``[name, media, origin]`` triples given to the planner as ``KnownResource`` and
``plan`` is a JARVIS-form plan in our task names.

The planner (the product's ``OfflinePlanner`` by default) plans each request as ``hugginggpt plan`` does: the
files as known resources, the configured ``max_plan_tasks``, the agent's fallback to an earlier answer's text.

Scoring rule (one request):

- **exact plan**: the two plans hold the same multiset of *node signatures*. A node's signature is its task name and,
  per input slot, what fills it: a ``<GENERATED>-k`` reference by the signature of task k (so edges, and what they
  come from, must match; ids and order do not); a media slot's literal by its value (quotes and surrounding space
  stripped); a text slot's literal by *presence* only (any non-empty text matches any other), except a literal that
  is a file name (``notes.txt``), which is compared by value. Optional text slots holding a literal (a style hint,
  a label) are left out on both sides: the wording of such a detail is not what this set measures. The two
  texts of ``sentence-similarity`` are an unordered pair.
- **nodes**: multisets of task names; true positives are the common count per name.
- **edges**: multisets of ``(source task, target task)`` pairs, one per referencing pair of tasks.

Node and edge precision / recall / F1 are micro-averaged over the requests (``metrics.Counts``); per-task recall is
found / expected per task name. A ``PlanError`` (or any other planner exception) scores as an empty plan and is
counted apart from the empty plans the planner returned.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, HuggingGPTError, PlanError
from ..plan_schema import refs_in
from ..planning.base import KnownResource, PlanContext, Planner
from ..tasks import TaskRegistry, default_registry
from .metrics import Counts

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data" / "wording"
SPLIT_FILES = {"dev": "dev.yaml", "heldout": "heldout.yaml", "jarvis": "jarvis_examples.yaml"}
SPLITS = tuple(SPLIT_FILES)

# A text literal that is a file name (no spaces, a short extension) names a resource: compared by value.
_FILE_LIKE = re.compile(r"^\S+\.[A-Za-z0-9]{1,5}$")
_QUOTES = "'\"`‘’“”"
# Slots whose order carries no meaning: their values are compared as an unordered pair.
_UNORDERED = {"sentence-similarity": ("text", "text2")}


@dataclass(frozen=True)
class WordingCase:
    """One request of a set and the plan it should get."""

    id: str
    request: str
    plan: list[dict[str, Any]]
    files: tuple[KnownResource, ...] = ()
    user: str = ""
    style: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> WordingCase:
        files = tuple(KnownResource(name=str(n), media=str(m), origin=str(o)) for n, m, o in raw.get("files") or [])
        return cls(id=str(raw["id"]), request=str(raw["request"]), plan=list(raw.get("plan") or []), files=files,
                   user=str(raw.get("user", "")), style=str(raw.get("style", "")))


def load_split(name: str, data_dir: Path | None = None) -> list[WordingCase]:
    """The cases of one set (``dev``, ``heldout`` or ``jarvis``)."""
    if name not in SPLIT_FILES:
        raise ConfigError(f"Unknown wording set {name!r}.", hint=f"Use one of: {', '.join(SPLITS)}, or all.")
    path = (data_dir or DATA_DIR) / SPLIT_FILES[name]
    if not path.is_file():
        raise ConfigError(f"The wording set {name!r} is missing ({path.name}).")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [WordingCase.from_dict(item) for item in raw]


# -- comparing plans ----------------------------------------------------------------------------------------------


def _clean(value: str) -> str:
    return " ".join(str(value).split()).strip(_QUOTES).strip()


def node_signatures(plan: Sequence[dict[str, Any]], registry: TaskRegistry) -> list[str]:
    """One signature per task of a JARVIS-form plan (see the module docstring), in plan order."""
    by_id = {int(t["id"]): t for t in plan}
    memo: dict[int, str] = {}

    def arg(task: str, slot: str, value: Any, seen: frozenset[int]) -> str | None:
        text = str(value)
        refs = refs_in(text)
        if refs:
            return "<" + "+".join(sorted(sig(k, seen) for k in refs)) + ">"
        kind = registry.get(task).slot(slot) if task in registry else None
        media = kind.type if kind else "text"
        cleaned = _clean(text)
        if media != "text" or _FILE_LIKE.match(cleaned):
            return repr(cleaned)
        if kind is not None and not kind.required:
            return None  # an optional text literal (a style hint, a label): not compared
        return "TEXT" if cleaned else "EMPTY"

    def sig(task_id: int, seen: frozenset[int] = frozenset()) -> str:
        if task_id in memo:
            return memo[task_id]
        task = by_id.get(task_id)
        if task is None or task_id in seen:
            return "?"  # a reference to no task, or a cycle: never equal to a real task's signature
        name = str(task["task"])
        shown = {slot: arg(name, slot, value, seen | {task_id}) for slot, value in (task.get("args") or {}).items()}
        pair = _UNORDERED.get(name, ())
        if all(slot in shown for slot in pair) and pair:
            joined = "|".join(sorted(str(shown.pop(slot)) for slot in pair))
            shown["|".join(pair)] = "{" + joined + "}"
        parts = [f"{slot}={v}" for slot, v in sorted(shown.items()) if v is not None]
        memo[task_id] = f"{name}({', '.join(parts)})"
        return memo[task_id]

    return [sig(int(t["id"])) for t in plan]


def plan_edges(plan: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(source task, target task)`` for each pair of tasks where the target refers to the source's output."""
    name = {int(t["id"]): str(t["task"]) for t in plan}
    pairs = {(k, int(t["id"])) for t in plan for v in (t.get("args") or {}).values() for k in refs_in(str(v))}
    return sorted((name[k], name[i]) for k, i in pairs if k in name)


def _add_multiset(counts: Counts, gold: Iterable[Any], pred: Iterable[Any]) -> int:
    """Add one request's multisets to ``counts``; returns the true positives."""
    g, p = Counter(gold), Counter(pred)
    tp = sum((g & p).values())
    counts.tp += tp
    counts.fp += sum(p.values()) - tp
    counts.fn += sum(g.values()) - tp
    return tp


def same_plan(expected: Sequence[dict[str, Any]], got: Sequence[dict[str, Any]], registry: TaskRegistry) -> bool:
    """Whether ``got`` is the expected plan under the rule of the module docstring."""
    return Counter(node_signatures(expected, registry)) == Counter(node_signatures(got, registry))


# -- scoring a set ------------------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    """What the planner made of one case."""

    case: WordingCase
    got: list[dict[str, Any]] | None  # None: the planner raised
    seconds: float
    exact: bool
    error: str | None = None
    error_type: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.case.id, "request": self.case.request, "user": self.case.user, "style": self.case.style,
                "files": [[f.name, f.media, f.origin] for f in self.case.files], "expected": self.case.plan,
                "got": self.got, "error": self.error, "error_type": self.error_type, "notes": self.notes}


@dataclass
class WordingScorer:
    """Running totals over the cases of a set."""

    registry: TaskRegistry
    nodes: Counts = field(default_factory=Counts)
    edges: Counts = field(default_factory=Counts)
    results: list[CaseResult] = field(default_factory=list)
    task_expected: Counter[str] = field(default_factory=Counter)
    task_found: Counter[str] = field(default_factory=Counter)

    def add(self, case: WordingCase, got: list[dict[str, Any]] | None, seconds: float = 0.0, *,
            error: Exception | None = None, notes: Sequence[str] = ()) -> CaseResult:
        plan = got or []
        _add_multiset(self.nodes, (t["task"] for t in case.plan), (t["task"] for t in plan))
        _add_multiset(self.edges, plan_edges(case.plan), plan_edges(plan))
        g, p = Counter(str(t["task"]) for t in case.plan), Counter(str(t["task"]) for t in plan)
        self.task_expected.update(g)
        self.task_found.update(g & p)
        message = None
        if error is not None:
            message = (error.message if isinstance(error, HuggingGPTError) else str(error))[:500]
        result = CaseResult(case, got, seconds, got is not None and same_plan(case.plan, plan, self.registry),
                            error=message, error_type=type(error).__name__ if error is not None else None,
                            notes=list(notes))
        self.results.append(result)
        return result

    def summary(self, failures: bool = True) -> dict[str, Any]:
        """The metrics of the set; ``failures`` adds the cases that were not planned exactly."""
        n = len(self.results)
        secs = [r.seconds for r in self.results]
        by_style: dict[str, list[bool]] = {}
        for r in self.results:
            by_style.setdefault(r.case.style or "-", []).append(r.exact)
        out: dict[str, Any] = {
            "n": n,
            "exact": sum(r.exact for r in self.results),
            "exact_rate": sum(r.exact for r in self.results) / n if n else None,
            "n_precision": self.nodes.precision, "n_recall": self.nodes.recall, "n_f1": self.nodes.f1,
            "e_precision": self.edges.precision, "e_recall": self.edges.recall, "e_f1": self.edges.f1,
            "empty_plans": sum(r.got == [] and bool(r.case.plan) for r in self.results),
            "plan_errors": sum(r.error_type is not None for r in self.results),
            "plan_error_types": dict(Counter(r.error_type for r in self.results if r.error_type)),
            "seconds_median": statistics.median(secs) if secs else None,
            "seconds_mean": statistics.fmean(secs) if secs else None,
            "task_recall": {t: self.task_found[t] / c for t, c in sorted(self.task_expected.items())},
            "task_expected": dict(sorted(self.task_expected.items())),
            "exact_by_style": {s: sum(v) / len(v) for s, v in sorted(by_style.items())},
        }
        if failures:
            out["failures"] = [r.to_json() for r in self.results if not r.exact]
        return out


def plan_case(planner: Planner, case: WordingCase, registry: TaskRegistry,
              max_tasks: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Plan one case as ``hugginggpt plan`` plans a request (files known, the agent's fallback, the size check)."""
    from ..agent import _plan_with_memory  # the agent's own planning step, so the product's path is measured
    from ..planning.limits import check_plan_size

    context = PlanContext(registry=registry, files=list(case.files), max_tasks=max_tasks)
    outcome = _plan_with_memory(planner, case.request.strip(), context)
    check_plan_size(outcome.plan, max_tasks)
    return outcome.plan.to_jarvis(), list(outcome.notes)


def evaluate(cases: Sequence[WordingCase], planner: Planner, registry: TaskRegistry | None = None, *,
             max_tasks: int | None = None,
             on_result: Callable[[CaseResult], None] | None = None) -> WordingScorer:
    """Plan and score every case. A planner exception never stops the run: it scores as an empty plan."""
    from ..config import HuggingGPTConfig

    registry = registry or default_registry()
    limit = max_tasks if max_tasks is not None else HuggingGPTConfig().max_plan_tasks
    scorer = WordingScorer(registry)
    for case in cases:
        t0 = time.perf_counter()
        try:
            got, notes = plan_case(planner, case, registry, limit)
            result = scorer.add(case, got, time.perf_counter() - t0, notes=notes)
        except Exception as exc:  # noqa: BLE001 - a failed plan is a counted result, never the end of a run
            if not isinstance(exc, PlanError):
                log.warning("planner raised %s on %s: %s", type(exc).__name__, case.id, exc)
            result = scorer.add(case, None, time.perf_counter() - t0, error=exc)
        if on_result is not None:
            on_result(result)
    return scorer


def make_planner(kind: str = "offline", llm_factory: Callable[[], Any] | None = None) -> Planner:
    """The planner to measure: ``offline`` (the default), or ``llm`` / ``hybrid`` over ``llm_factory()``."""
    registry = default_registry()
    if kind == "offline":
        from ..planning.offline_planner import OfflinePlanner

        return OfflinePlanner(registry)
    if kind not in ("llm", "hybrid"):
        raise ConfigError(f"Unknown planner {kind!r}.", hint="Use offline, llm or hybrid.")
    if llm_factory is None:
        raise ConfigError(f"The {kind} planner needs an LLM.", hint="Configure llm: or pass --llm-url.")
    llm = llm_factory()
    if kind == "llm":
        from ..planning.llm_planner import LLMPlanner

        return LLMPlanner(llm, registry)
    from ..planning.hybrid_planner import HybridPlanner

    return HybridPlanner(llm, registry)


def run(splits: Sequence[str], planner_kind: str = "offline", *, llm_factory: Callable[[], Any] | None = None,
        failures: bool = True, data_dir: Path | None = None) -> dict[str, Any]:
    """``hugginggpt eval wording``: the summary of each set, planned by one planner instance."""
    planner = make_planner(planner_kind, llm_factory)
    out: dict[str, Any] = {"planner": planner_kind, "splits": {}}
    for name in splits:
        out["splits"][name] = evaluate(load_split(name, data_dir), planner).summary(failures=failures)
    return out
