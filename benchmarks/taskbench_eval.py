"""TaskBench planning quality of a planner (the offline one by default) on the dev files (huggingface, multimedia).

Usage: python benchmarks/taskbench_eval.py [--data-dir DIR] [--planner offline|llm|hybrid|taskbench-baseline]
       [--skip N] [--limit N] [--split dev|test]
DIR holds TaskBench's files (default: $HUGGINGGPT_TASKBENCH_DIR, else ../shared/taskbench next to the repository).
Prints n-F1, e-F1, t-F1, v-F1 (percent), NED and seconds per request, overall and per sample type, under our strict
rule and TaskBench's original rule (see docs/evaluation.md), and writes benchmarks/results/taskbench_eval.json.
By default the *_dev.jsonl files are used; `--split test` scores the test files, for reporting a finished planner
only (never tune on it). Results go to benchmarks/results/taskbench_eval[_test][_<planner>].json. The LLM planners
use the configured controller LLM (the embedded SmolLM2 by default; see docs/configuration.md); they take seconds a
request here, so measure them on a slice: `--skip 100 --limit 30` plans samples 101-130 of each file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _common import taskbench_dir

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("huggingface", "multimedia")


def _num(v: float | None, fmt: str, width: int) -> str:
    return f"{'-':>{width}}" if v is None else format(v, fmt)


def _row(domain: str, rule: str, kind: str, m: dict, timing: dict | None) -> str:
    """One table line: F1s in percent, NED, then (strict rule only) timing and failures."""
    f1s = " ".join(_num(None if m[k] is None else 100 * m[k], "6.2f", 6) for k in ("n_f1", "e_f1", "t_f1", "v_f1"))
    line = f"{domain:<12} {rule:<8} {kind:<6} {m['n_samples']:>4} {f1s} {_num(m['ned'], '6.4f', 6)}"
    if timing:
        mean, median = timing.get("seconds_per_request"), timing.get("seconds_median")
        line += f" {_num(mean, '9.5f', 9)} {_num(median, '9.5f', 9)} {timing.get('failed', 0):>4}"
    return line


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=taskbench_dir())
    ap.add_argument("--planner", default="offline")
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N samples of each file")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    args = ap.parse_args()
    if not (args.data_dir / "huggingface_dev.jsonl").exists():
        print(f"TaskBench data not found in {args.data_dir}; set HUGGINGGPT_TASKBENCH_DIR. Skipped.")
        return 0

    sys.path.insert(0, str(ROOT / "src"))
    from hugginggpt.errors import ConfigError
    from hugginggpt.eval.taskbench import configured_llm, run

    results = {}
    for domain in args.domains:
        try:
            results[domain] = run(args.data_dir / f"{domain}_{args.split}.jsonl",
                                  args.data_dir / f"data_{domain}" / "tool_desc.json", args.planner,
                                  limit=args.limit, skip=args.skip, llm_factory=configured_llm)
        except ConfigError as exc:
            if not args.skip:
                raise
            print(f"{domain}: {exc.message.rstrip('.')} after its first {args.skip} lines; skipped.")

    window = f", samples {args.skip + 1}-" + (str(args.skip + args.limit) if args.limit else "end") \
        if args.skip or args.limit else ""
    print(f"TaskBench {args.split}{window}, planner {args.planner}. F1 in percent; NED lower is better; "
          "s/request mean and median.")
    print("strict: failed plans are empty, tools outside the list are false positives (every sample counts).")
    print("original: TaskBench's script (failed plans dropped; names outside the list ignored in n-F1).\n")
    head = (f"{'domain':<12} {'rule':<8} {'type':<6} {'n':>4} {'n-F1':>6} {'e-F1':>6} {'t-F1':>6} {'v-F1':>6} "
            f"{'NED':>6} {'s/req':>9} {'median':>9} {'fail':>4}")
    print(head)
    print("-" * len(head))
    for domain, s in results.items():
        timing = {k: s[k] for k in ("seconds_per_request", "seconds_median", "failed")}
        print(_row(domain, "strict", "all", s, timing))
        for kind, m in s["by_type"].items():
            print(_row(domain, "strict", kind, m, m))
        o = s["original"]
        print(_row(domain, "original", "all", o, None))
        for kind, m in o["by_type"].items():
            print(_row(domain, "original", kind, m, None))
        fails = ", ".join(f"{k}: {v}" for k, v in s["failures"].items()) or "none"
        print(f"{'':<12} failures: {fails}; gold samples normalized: {s['normalization']['samples_touched']}"
              f" of {s['normalization']['samples']}")
    suffix = "" if args.split == "dev" else f"_{args.split}"
    suffix += "" if args.planner == "offline" else f"_{args.planner}"
    out = ROOT / "benchmarks" / "results" / f"taskbench_eval{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
