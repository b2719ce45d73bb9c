"""Cold start and peak memory of `hugginggpt run` on the first demo request (a fresh process each time).

Usage: python benchmarks/cold_start.py [--repeat N]
Measures wall time and peak RSS of the whole CLI process with /usr/bin/time -v when available, else with
getrusage of the child. Prints a table and writes benchmarks/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUEST = "Describe examples/poster.png and read the description aloud."


def measure_once(workspace: Path) -> dict[str, float]:
    cli = str(Path(sys.executable).with_name("hugginggpt"))
    cmd = [cli, "run", REQUEST, "--json", "--workspace", str(workspace)]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    if timer:
        proc = subprocess.run([timer, "-v", *cmd], cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        peak_mb = int(m.group(1)) / 1024 if m else float("nan")
    else:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout)
    return {"wall_s": wall, "peak_rss_mb": peak_mb, "run_total_s": result["timings"]["total"],
            **{f"{k}_s": v for k, v in result["timings"].items() if k != "total"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "examples"))
    from make_examples import main as make_examples

    make_examples(ROOT / "examples")
    rows = []
    for i in range(args.repeat):
        ws = ROOT / ".hugginggpt" / "bench-cold" / str(i)
        shutil.rmtree(ws, ignore_errors=True)
        rows.append(measure_once(ws))
    keys = list(rows[0])
    summary = {k: round(statistics.median(r[k] for r in rows), 3) for k in keys}
    print(f"`hugginggpt run \"{REQUEST}\"`, fresh process, median of {args.repeat}")
    print(f"{'metric':<16}{'median':>10}")
    for k, v in summary.items():
        print(f"{k:<16}{v:>10.3f}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cold_start.json").write_text(json.dumps({"request": REQUEST, "runs": rows, "median": summary}, indent=1))


if __name__ == "__main__":
    main()
