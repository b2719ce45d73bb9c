"""Recall of the LLM planner's task shortlist: the fraction of gold tasks that the prompt shows.

Usage: python benchmarks/shortlist_recall.py [--data-dir DIR] [--learned-k 6] [--similar-k 6] [--min-tasks 8]
       [--split dev] [--limit N]
For TaskBench huggingface and multimedia (``*_dev.jsonl``, over the registry bound to the domain's tool list, as
``hugginggpt eval taskbench`` plans) and for the wording set (``--split``), prints the task recall of the shortlist
(gold nodes whose task is shortlisted / gold nodes whose tool is in the tool list), the share of requests with every
gold task shortlisted, the mean shortlist size, and the recall of each signal alone; writes
benchmarks/results/shortlist_recall.json. Only dev data is read unless ``--split heldout`` is asked for (report only,
never tune on it). Method: docs/tokens.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from _common import taskbench_dir

ROOT = Path(__file__).resolve().parents[1]


class Tally:
    """Gold tasks found by the shortlist (and by each signal alone), over a set of requests."""

    def __init__(self) -> None:
        self.gold = 0
        self.found: Counter[str] = Counter()
        self.complete = 0
        self.requests = 0
        self.sizes: list[int] = []
        self.missed: Counter[str] = Counter()
        self.fallbacks = 0
        self.outside = 0

    def add(self, gold: list[str], short: list[str] | None, ranking: Any, shortlist: Any) -> None:
        # A gold tool outside the domain's tool list (TaskBench has a few) can be in no prompt: not counted.
        self.outside += sum(g not in shortlist.registry for g in gold)
        gold = [g for g in gold if g in shortlist.registry]
        self.requests += 1
        self.gold += len(gold)
        if short is None:  # every task shown
            self.fallbacks += 1
            short = [t.name for t in shortlist.registry]
        self.sizes.append(len(short))
        hits = [g for g in gold if g in short]
        self.found["shortlist"] += len(hits)
        self.complete += len(hits) == len(gold)
        self.missed.update(g for g in gold if g not in short)
        if ranking is not None:
            from hugginggpt.planning.shortlist import _top

            signals = {"planned": set(ranking.planned), "learned": set(_top(ranking.learned, shortlist.learned_k)),
                       "similar": set(_top(ranking.similar, shortlist.similar_k))}
            for name, chosen in signals.items():
                self.found[name] += sum(g in chosen for g in gold)

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "gold_tasks": self.gold, "gold_outside_tool_list": self.outside,
                "recall": self.found["shortlist"] / self.gold if self.gold else None,
                "requests_complete": self.complete / self.requests if self.requests else None,
                "mean_size": statistics.fmean(self.sizes) if self.sizes else None,
                "max_size": max(self.sizes, default=0), "fallbacks": self.fallbacks,
                "signal_recall": {k: self.found[k] / self.gold for k in ("planned", "learned", "similar")
                                  if self.gold},
                "missed": dict(self.missed.most_common(12))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=taskbench_dir())
    ap.add_argument("--learned-k", type=int, default=None)
    ap.add_argument("--similar-k", type=int, default=None)
    ap.add_argument("--min-tasks", type=int, default=None)
    ap.add_argument("--split", default="dev", choices=("dev", "heldout", "jarvis"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "shortlist_recall.json")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from hugginggpt.eval.data import load_samples
    from hugginggpt.eval.tools import bind_tools, load_tools
    from hugginggpt.eval.wording import load_split
    from hugginggpt.planning.base import PlanContext
    from hugginggpt.planning.shortlist import TaskShortlist
    from hugginggpt.tasks import default_registry

    knobs = {k: v for k, v in (("learned_k", args.learned_k), ("similar_k", args.similar_k),
                               ("min_tasks", args.min_tasks)) if v is not None}
    results: dict[str, Any] = {"settings": knobs}
    for domain in ("huggingface", "multimedia"):
        data = args.data_dir / f"{domain}_dev.jsonl"
        if not data.exists():
            print(f"{data} not found; TaskBench skipped")
            break
        tools = load_tools(args.data_dir / f"data_{domain}" / "tool_desc.json", domain)
        samples, _ = load_samples(data, tools, limit=args.limit)
        binding = bind_tools(tools)
        task_of = {tool: task for task, tool in binding.name_of.items()}
        shortlist = TaskShortlist(binding.registry, **knobs)
        tally = Tally()
        for sample in samples:
            gold = [task_of.get(n.task, n.task) for n in sample.nodes]
            ranking = shortlist.rank(sample.instruction, PlanContext(registry=binding.registry))
            tally.add(gold, None if ranking is None else shortlist.from_ranking(ranking), ranking, shortlist)
        results[f"taskbench_{domain}_dev"] = tally.summary()
    registry = default_registry()
    shortlist = TaskShortlist(registry, **knobs)
    tally = Tally()
    for case in load_split(args.split)[: args.limit]:
        context = PlanContext(registry=registry, files=list(case.files))
        ranking = shortlist.rank(case.request, context)
        tally.add([str(t["task"]) for t in case.plan], None if ranking is None else shortlist.from_ranking(ranking),
                  ranking, shortlist)
    results[f"wording_{args.split}"] = tally.summary()
    for name, s in results.items():
        if name == "settings":
            continue
        signals = ", ".join(f"{k} {v:.3f}" for k, v in s["signal_recall"].items())
        print(f"{name:<26} n={s['requests']:<4} recall {s['recall']:.3f}  all-gold-in {s['requests_complete']:.3f}  "
              f"size {s['mean_size']:.1f} (max {s['max_size']})  alone: {signals}  missed {s['missed']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
