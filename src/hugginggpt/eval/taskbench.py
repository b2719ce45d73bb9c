"""The TaskBench harness: plan every sample's request, convert the plan to TaskBench form, score it.

``evaluate(samples, planner, binding)`` works with any object that has the ``Planner`` protocol
(``plan(request, context) -> PlanOutcome``). Each request is planned with ``PlanContext(registry=binding.registry)``
(the domain's tools, see ``tools.bind_tools``); the plan's task names are mapped back to tool names with
``binding.tool_name``. An exception while planning never stops the run: it is counted by type, and the sample
scores as an empty plan (strict rule) or is dropped (original rule). ``run`` is what ``hugginggpt eval taskbench``
calls.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, HuggingGPTError
from ..plan_schema import Plan
from ..planning.base import PlanContext, Planner
from .data import SAMPLE_TYPES, Node, Sample, load_samples
from .metrics import Score, TaskBenchScorer
from .tools import ToolBinding, ToolList, bind_tools, load_tools

log = logging.getLogger(__name__)

PLANNERS = ("offline", "llm", "hybrid", "taskbench-baseline")
_GENERATED = re.compile(r"<GENERATED>-(\d+)")


def plan_to_nodes(plan: Plan, tool_name: Callable[[str], str] = str) -> list[Node]:
    """A plan in TaskBench form: nodes in the plan's order, ``<GENERATED>-k`` -> ``<node-j>`` (j = position of
    task k, also inside longer strings), task names through ``tool_name``. A reference to no task stays as is."""
    position = {t.id: j for j, t in enumerate(plan.tasks)}

    def ref(m: re.Match[str]) -> str:
        k = int(m.group(1))
        return f"<node-{position[k]}>" if k in position else m.group(0)

    return [Node(tool_name(t.task), [_GENERATED.sub(ref, v) for v in t.args.values()]) for t in plan.tasks]


@dataclass
class Prediction:
    """What the planner made of one sample."""

    sample: Sample
    nodes: list[Node] | None  # None: the planner raised
    seconds: float
    error: str | None = None
    error_type: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.sample.id, "type": self.sample.type, "seconds": round(self.seconds, 6),
                "failed": self.nodes is None, "error_type": self.error_type, "error": self.error,
                "prediction": {"task_nodes": [n.to_json() for n in self.nodes or []]},
                "gold": {"task_nodes": [n.to_json() for n in self.sample.nodes]}}


@dataclass
class EvalResult:
    """Predictions, their scores under both rules, and timings."""

    predictions: list[Prediction]
    scorer: TaskBenchScorer

    def summary(self) -> dict[str, Any]:
        """The metrics: strict rule at the top level (and per type under ``by_type``), TaskBench's under
        ``original``; fractions in [0, 1]; NED lower is better."""
        out: dict[str, Any] = {"rule": "strict", **self.scorer.result("strict")}
        out.update(_timing(self.predictions))
        out["failures"] = dict(Counter(p.error_type for p in self.predictions if p.nodes is None))
        out["predicted_outside_tool_list"] = self.scorer.predicted_off_list
        by_type = out["by_type"]
        for kind in SAMPLE_TYPES:
            preds = [p for p in self.predictions if p.sample.type == kind]
            entry = by_type.setdefault(kind, _empty())
            entry.update(_timing(preds))
        original = {"rule": "original", **self.scorer.result("original")}
        original["dropped"] = out["failed"]
        for kind in SAMPLE_TYPES:
            original["by_type"].setdefault(kind, _empty())
        out["original"] = original
        return out


def _empty() -> dict[str, Any]:
    return Score().to_dict()


def _timing(preds: Sequence[Prediction]) -> dict[str, Any]:
    secs = [p.seconds for p in preds]
    return {"failed": sum(p.nodes is None for p in preds),
            "seconds_per_request": statistics.fmean(secs) if secs else None,
            "seconds_median": statistics.median(secs) if secs else None,
            "seconds_total": sum(secs)}


def evaluate(samples: Sequence[Sample], planner: Planner, binding: ToolBinding,
             on_prediction: Callable[[Prediction], None] | None = None) -> EvalResult:
    """Plan and score every sample (see the module docstring)."""
    scorer = TaskBenchScorer(binding.tools)
    predictions = []
    for sample in samples:
        context = PlanContext(registry=binding.registry)
        t0 = time.perf_counter()
        try:
            outcome = planner.plan(sample.instruction, context)
            seconds = time.perf_counter() - t0
            pred = Prediction(sample, plan_to_nodes(outcome.plan, binding.tool_name), seconds, notes=outcome.notes)
        except Exception as exc:  # noqa: BLE001 - any planner failure is a counted result, never the end of a run
            seconds = time.perf_counter() - t0
            message = exc.message if isinstance(exc, HuggingGPTError) else str(exc)
            log.debug("planner failed on %s: %r", sample.id, exc)
            pred = Prediction(sample, None, seconds, error=message[:500], error_type=type(exc).__name__)
        scorer.add(sample, pred.nodes)
        predictions.append(pred)
        if on_prediction is not None:
            on_prediction(pred)
    return EvalResult(predictions, scorer)


# -- planners -----------------------------------------------------------------------------------------------------


def load_demos(path: Path, n: int, tools: ToolList) -> list[dict[str, Any]]:
    """The first ``n`` samples of a (dev) file as worked examples for the baseline prompt."""
    samples, _ = load_samples(path, tools, limit=n)
    return [{"request": s.instruction, "result": {"task_steps": [], "task_nodes": [x.to_json() for x in s.raw_nodes]}}
            for s in samples]


def configured_llm(url: str | None = None, model: str | None = None, gguf: Path | None = None) -> Any:
    """The controller LLM of the configuration, or of an OpenAI-compatible ``url`` (``model`` there) or a ``gguf``
    file for the embedded backend."""
    from ..config import HuggingGPTConfig
    from ..llm.factory import build_llm

    llm: dict[str, Any] = {}
    if url:
        llm.update(backend="openai", base_url=url, model=model)
    if gguf:
        llm.update(backend="embedded", gguf_path=gguf)
    return build_llm(HuggingGPTConfig().with_overrides(llm=llm or None).llm)


def make_planner(kind: str, binding: ToolBinding, llm_factory: Callable[[], Any] | None = None,
                 demos: Sequence[dict[str, Any]] = ()) -> Planner:
    """``offline``; ``llm``, ``hybrid`` (the offline plan reviewed by the LLM) or ``taskbench-baseline``, each over
    ``llm_factory()``."""
    if kind == "offline":
        try:
            from ..planning.offline_planner import OfflinePlanner
        except ImportError as exc:
            raise ConfigError(f"The offline planner is not available here ({exc}).") from None
        return OfflinePlanner()
    if kind not in PLANNERS:
        raise ConfigError(f"Unknown planner {kind!r}.", hint=f"Use one of: {', '.join(PLANNERS)}.")
    if llm_factory is None:
        raise ConfigError(f"The {kind} planner needs an LLM.", hint="Configure llm: or pass --llm-url/--gguf.")
    llm = llm_factory()
    if kind == "llm":
        from ..planning.llm_planner import LLMPlanner

        return LLMPlanner(llm, registry=binding.registry)
    if kind == "hybrid":
        from ..planning.hybrid_planner import HybridPlanner

        return HybridPlanner(llm, registry=binding.registry)
    from .baseline import TaskBenchBaselinePlanner

    return TaskBenchBaselinePlanner(llm, binding.tools, demos=demos)


# -- the command --------------------------------------------------------------------------------------------------


def run(data: Path, tools_path: Path, planner_kind: str = "offline", *, limit: int | None = None, skip: int = 0,
        tool_names: str = "registry", llm_factory: Callable[[], Any] | None = None,
        demos_from: Path | None = None, demos: int = 0, predictions_out: Path | None = None,
        on_prediction: Callable[[Prediction], None] | None = None) -> dict[str, Any]:
    """Load, plan, score; the summary dict (what ``--json`` prints). Raises ``ConfigError`` on bad inputs."""
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1.")
    tools = load_tools(tools_path)
    samples, report = load_samples(data, tools, limit=limit, skip=skip)
    if tool_names not in ("registry", "native"):
        raise ConfigError(f"--tool-names is registry or native, not {tool_names!r}.")
    binding = bind_tools(tools, names="native" if tool_names == "native" else "registry")
    demo_list = load_demos(demos_from, demos, tools) if demos_from and demos > 0 else []
    planner = make_planner(planner_kind, binding, llm_factory, demo_list)
    result = evaluate(samples, planner, binding, on_prediction=on_prediction)
    summary = {"benchmark": "taskbench", "domain": tools.domain, "data": str(data), "tools": str(tools_path),
               "planner": getattr(planner, "name", planner_kind), "tool_names": tool_names,
               **result.summary(), "normalization": report.to_dict()}
    describe = getattr(getattr(planner, "llm", None), "describe", None)
    if callable(describe):
        try:
            summary["llm"] = {k: v for k, v in describe().items() if k in ("backend", "model", "capable")}
        except Exception:  # noqa: BLE001 - a description is optional
            pass
    if predictions_out is not None:
        predictions_out.parent.mkdir(parents=True, exist_ok=True)
        with predictions_out.open("w", encoding="utf-8") as fh:
            for p in result.predictions:
                fh.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")
    return summary
