"""Plan quality of the LLM planner on fixed slices, with the whole task list or the shortlist in its prompt.

Usage: python benchmarks/llm_planner_quality.py [--data-dir DIR] [--shortlist on|off] [--demos-k K] [--skip 100]
       [--limit 30] [--every 6] [--out PATH]
Plans TaskBench huggingface dev samples ``skip+1 .. skip+limit`` (scored with the TaskBench harness, strict and
original rules) and every ``every``-th request of the wording dev split (scored with the wording harness) with
``LLMPlanner`` over the configured controller LLM (the embedded SmolLM2-135M by default). Prints node / edge / value
F1, exact plans, failures and seconds per request, and writes the summaries (and per-case plans) as JSON. Only dev
data is read. DIR holds TaskBench's files (default: $HUGGINGGPT_TASKBENCH_DIR, else ../shared/taskbench next to the
repository). Method and results: docs/tokens.md.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from _common import taskbench_dir

ROOT = Path(__file__).resolve().parents[1]


def _planner(llm: Any, registry: Any, shortlist: str, demos_k: int | None = None) -> Any:
    """An ``LLMPlanner``; ``shortlist`` (and ``demos_k`` when given) are passed only when this version of the
    planner takes them."""
    from hugginggpt.planning.llm_planner import LLMPlanner

    kwargs: dict[str, Any] = {}
    if demos_k is not None:
        kwargs["demos_k"] = demos_k
    if "shortlist" in inspect.signature(LLMPlanner).parameters:
        kwargs["shortlist"] = shortlist == "on"
    elif shortlist == "on":
        raise SystemExit("this LLMPlanner has no shortlist")
    return LLMPlanner(llm, registry, **kwargs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=taskbench_dir())
    ap.add_argument("--shortlist", choices=("on", "off"), default="on")
    ap.add_argument("--skip", type=int, default=100, help="TaskBench: leave out the first N dev samples")
    ap.add_argument("--limit", type=int, default=30, help="TaskBench: then plan N samples (0: none)")
    ap.add_argument("--every", type=int, default=6, help="wording dev: plan every N-th request (0: none)")
    ap.add_argument("--demos-k", type=int, default=None, help="demos in the prompt (default: the planner's own)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from hugginggpt.eval.data import load_samples
    from hugginggpt.eval.taskbench import configured_llm, evaluate
    from hugginggpt.eval.tools import bind_tools, load_tools
    from hugginggpt.eval.wording import evaluate as evaluate_wording
    from hugginggpt.eval.wording import load_split
    from hugginggpt.tasks import default_registry

    llm = configured_llm()
    out: dict[str, Any] = {"shortlist": args.shortlist, "demos_k": args.demos_k,
                           "llm": getattr(llm, "describe", dict)()}
    if args.limit:
        tools = load_tools(args.data_dir / "data_huggingface" / "tool_desc.json", "huggingface")
        samples, _ = load_samples(args.data_dir / "huggingface_dev.jsonl", tools, limit=args.limit, skip=args.skip)
        binding = bind_tools(tools)
        result = evaluate(samples, _planner(llm, binding.registry, args.shortlist, args.demos_k), binding)
        s = result.summary()
        out["taskbench"] = {"slice": f"huggingface_dev {args.skip + 1}-{args.skip + len(samples)}",
                            **{k: s[k] for k in ("n_f1", "e_f1", "t_f1", "v_f1", "ned", "failed",
                                                 "seconds_median", "failures")},
                            "original_n_f1": s["original"]["n_f1"],
                            "predictions": [p.to_json() for p in result.predictions]}
        print(f"TaskBench {out['taskbench']['slice']}: n-F1 {100 * s['n_f1']:.1f} (original "
              f"{100 * s['original']['n_f1']:.1f}), e-F1 {100 * (s['e_f1'] or 0):.1f}, v-F1 "
              f"{100 * (s['v_f1'] or 0):.1f}, failed {s['failed']}, median {s['seconds_median']:.1f} s")
    if args.every:
        registry = default_registry()
        cases = load_split("dev")[:: args.every]
        summary = evaluate_wording(cases, _planner(llm, registry, args.shortlist, args.demos_k), registry).summary()
        out["wording"] = {"slice": f"dev[::{args.every}]", **summary}
        print(f"wording dev[::{args.every}] ({summary['n']}): exact {summary['exact']}, n-F1 "
              f"{100 * (summary['n_f1'] or 0):.1f}, e-F1 {100 * (summary['e_f1'] or 0):.1f}, plan errors "
              f"{summary['plan_errors']}, empty {summary['empty_plans']}, median {summary['seconds_median']:.1f} s")
    path = args.out or ROOT / "benchmarks" / "results" / f"llm_planner_quality_{args.shortlist}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
