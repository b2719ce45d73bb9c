"""Planning quality on our own wording sets: dev, held-out and the original system's example requests.

Usage: python benchmarks/wording_eval.py [--planner offline|llm|hybrid] [--failures]
Prints, per set, the exact-plan rate, node precision / recall / F1, edge F1, empty plans, PlanErrors and the median
seconds per plan (rule: docs/evaluation.md, "Wording sets"), then the tasks found less than always, and writes
benchmarks/results/wording_eval[_<planner>].json (with every request not planned exactly). Tune on dev only; the
held-out set is for reporting.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planner", default="offline", help="offline (default), llm or hybrid")
    parser.add_argument("--failures", action="store_true", help="also print each request not planned exactly")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from hugginggpt.eval.cli import render_wording
    from hugginggpt.eval.taskbench import configured_llm
    from hugginggpt.eval.wording import SPLITS, run

    summary = run(SPLITS, args.planner, llm_factory=configured_llm)
    render_wording(summary, failures=args.failures)
    out = ROOT / "benchmarks" / "results" / ("wording_eval.json" if args.planner == "offline"
                                              else f"wording_eval_{args.planner}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
