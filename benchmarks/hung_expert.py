"""Measure what a hung expert does to everyone else (results: benchmarks/results/hung_expert.json).

1. ``run()`` wall time: one run whose only task hangs for ``--hang`` seconds, with ``task_timeout=--timeout``.
2. Starvation: on one event loop (as in the server), ``--hung`` runs whose expert hangs, then ``--others`` unrelated
   runs of a well-behaved expert; reports how long the unrelated runs took.

    python benchmarks/hung_expert.py --hang 30 --timeout 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fault experts and the LLM double; hugginggpt as installed

from faults.fault_experts import Echo, FaultAgent, Sleeps  # noqa: E402
from llm_doubles import ScriptedLLM  # noqa: E402

HUNG_PLAN = [{"task": "text-classification", "id": 0, "args": {"text": "anything"}}]
OTHER_PLAN = [{"task": "summarization", "id": 0, "args": {"text": "an unrelated request"}}]


def agents(tmp: Path, timeout: float) -> tuple[FaultAgent, FaultAgent]:
    llm = ScriptedLLM(capable=False)
    hung = FaultAgent(HUNG_PLAN, tmp, classes=[Sleeps, Echo], llm=llm, task_timeout=timeout,
                      overrides={"text-classification": Sleeps.model_id})
    other = FaultAgent(OTHER_PLAN, tmp, classes=[Sleeps, Echo], llm=llm, task_timeout=timeout,
                       overrides={"summarization": Echo.model_id})
    return hung, other


def sync_run_wall(tmp: Path, timeout: float) -> dict[str, object]:
    hung, _ = agents(tmp / "sync", timeout)
    t0 = time.perf_counter()
    result = hung.run("classify this")
    wall = time.perf_counter() - t0
    r = result.results[0]
    return {"run_wall_s": round(wall, 2), "task_status": r.status, "error": r.error.code if r.error else None}


async def starvation(tmp: Path, timeout: float, n_hung: int, n_others: int) -> dict[str, object]:
    hung, other = agents(tmp / "async", timeout)
    hung_jobs = [asyncio.create_task(hung.arun("classify this")) for _ in range(n_hung)]
    await asyncio.sleep(1.0)  # the hung runs are now inside their expert

    async def timed() -> float:
        t0 = time.perf_counter()
        result = await other.arun("summarize this")
        assert result.status == "succeeded", result.results
        return time.perf_counter() - t0

    lat = sorted(await asyncio.gather(*(timed() for _ in range(n_others))))
    hung_results = await asyncio.gather(*hung_jobs)
    return {"unrelated_runs": n_others, "unrelated_max_s": round(lat[-1], 2),
            "unrelated_median_s": round(lat[len(lat) // 2], 2),
            "hung_runs": [r.results[0].error.code if r.results and r.results[0].error else None
                          for r in hung_results]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hang", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--hung", type=int, default=6)
    ap.add_argument("--others", type=int, default=10)
    ap.add_argument("--part", choices=["sync", "starve", "both"], default="both")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    Sleeps.hang_s = args.hang
    out: dict[str, object] = {"hang_s": args.hang, "task_timeout": args.timeout}
    with tempfile.TemporaryDirectory() as d:
        if args.part in ("starve", "both"):
            t0 = time.perf_counter()
            out["starvation"] = asyncio.run(starvation(Path(d), args.timeout, args.hung, args.others))
            out["starvation_asyncio_run_wall_s"] = round(time.perf_counter() - t0, 2)
        if args.part in ("sync", "both"):
            out["sync_run"] = sync_run_wall(Path(d), args.timeout)
    text = json.dumps(out, indent=1)
    print(text)
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "hung_expert.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
