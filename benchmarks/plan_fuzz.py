"""Plan fuzzing counts: the strategies of tests/fuzz/plan_strategies.py over many examples, as a table.

Usage: python benchmarks/plan_fuzz.py [--plans 27000] [--agent-runs 1000] [--seed 0]

``--plans`` is split between plans as Python structures, as LLM text and at the size limits (40/40/20); the agent
runs are ``HuggingGPT.arun`` with the LLM planner over ``HostileLLM`` (a test double answering the planning calls
with hostile text). Prints, for each source: cases, valid (tasks, no repair needed), repaired (valid after repairs),
empty (no task: answered directly), rejected (a PlanError, or validation problems the planner turns into one),
crashes (any other exception; for the agent, a run whose error is ``internal_error``), and the slowest and 99th
percentile case. Crashes are counted, not raised, and their kinds are listed. Writes
benchmarks/results/plan_fuzz.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "fuzz")]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from plan_strategies import (  # noqa: E402
    big_plans,
    build_hostile_agent,
    judge,
    plan_answers,
    plan_texts,
    plan_values,
    requests,
    run_agent,
)


class Tally:
    """Outcome counts and timings of one source."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.seconds: list[float] = []
        self.crash_kinds: Counter[str] = Counter()

    def add(self, kind: str, seconds: float) -> None:
        self.counts["cases"] += 1
        self.counts[kind] += 1
        self.seconds.append(seconds)

    def crash(self, exc: BaseException, seconds: float) -> None:
        self.add("crashes", seconds)
        self.crash_kinds[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1

    def row(self) -> dict[str, Any]:
        ordered = sorted(self.seconds) or [0.0]
        return {**{k: self.counts[k] for k in ("cases", "valid", "repaired", "empty", "rejected", "crashes")},
                "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1), "crash_kinds": dict(self.crash_kinds.most_common(10))}


def _run(strategy: Any, n: int, rng_seed: int, body: Any) -> None:
    """Call ``body`` on ``n`` examples of ``strategy`` (generation only: nothing is shrunk, nothing raised)."""
    @seed(rng_seed)
    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def each(value: Any) -> None:
        body(value)

    each()


def fuzz_plans(source: str, n: int, rng_seed: int) -> Tally:
    tally = Tally()

    def one(value: Any) -> None:
        raw, text, cap = value if source == "size limits" else (value, source == "LLM text", 64)
        started = time.perf_counter()
        try:
            out = judge(raw, text=text, max_tasks=cap)
        except Exception as exc:  # noqa: BLE001 - a crash is what is being counted
            tally.crash(exc, time.perf_counter() - started)
        else:
            tally.add(out.kind, out.seconds)

    strategy = {"Python structures": plan_values, "LLM text": plan_texts(),
                "size limits": st.tuples(big_plans(), st.booleans(), st.integers(1, 80)).map(
                    lambda p: (json.dumps(p[0]) if p[1] else p[0], p[1], p[2]))}[source]
    _run(strategy, n, rng_seed, one)
    return tally


def fuzz_agent(n: int, rng_seed: int) -> Tally:
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        agent, llm = build_hostile_agent(Path(tmp))

        def one(value: tuple[str, list[tuple[str, str]]]) -> None:
            request, answers = value
            started = time.perf_counter()
            result = run_agent(agent, llm, request, answers)
            seconds = time.perf_counter() - started
            if result.error is not None and result.error.code == "internal_error":
                tally.add("crashes", seconds)
                tally.crash_kinds[result.error.message[:100]] += 1
            elif result.error is not None:
                tally.add("rejected", seconds)
            else:
                tally.add("empty" if not result.plan else "valid", seconds)

        _run(st.tuples(requests, st.lists(plan_answers, min_size=1, max_size=3)), n, rng_seed, one)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=27_000)
    parser.add_argument("--agent-runs", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # task failures are logged at INFO/WARNING by design; only the table matters
    split = {"Python structures": 0.4, "LLM text": 0.4, "size limits": 0.2}
    rows: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for source, share in split.items():
        rows[source] = fuzz_plans(source, int(args.plans * share), args.seed).row()
    if args.agent_runs:
        rows["whole agent (arun)"] = fuzz_agent(args.agent_runs, args.seed).row()
    total = time.perf_counter() - started
    header = f"{'source':<20}{'cases':>7}{'valid':>7}{'repaired':>9}{'empty':>7}{'rejected':>9}{'crashes':>8}" \
             f"{'p99 ms':>8}{'max ms':>8}"
    print(header)
    for source, row in rows.items():
        print(f"{source:<20}{row['cases']:>7}{row['valid']:>7}{row['repaired']:>9}{row['empty']:>7}"
              f"{row['rejected']:>9}{row['crashes']:>8}{row['p99_ms']:>8}{row['max_ms']:>8}")
        for kind, count in row["crash_kinds"].items():
            print(f"    crash x{count}: {kind}")
    print(f"({total:.1f} s; seed {args.seed})")
    out = ROOT / "benchmarks" / "results" / "plan_fuzz.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seed": args.seed, "seconds": round(total, 1), "sources": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
