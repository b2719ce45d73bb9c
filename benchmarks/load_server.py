"""Load test of the whole HTTP API: N concurrent requests over every entry point, then a check that no run was lost.

Usage: python benchmarks/load_server.py [--requests 200] [--concurrency 200]
Starts `python -m hugginggpt.server` on a free loopback port with a fresh workspace (embedded default configuration),
warms it up, then sends the requests at once, spread over the entry points: OpenAI chat completions (plain and
streamed), JARVIS `/hugginggpt`, and `POST /v1/runs` followed over its SSE events to the end. The request is a
cheap one (sentiment: planner + VADER, no LLM call), so the figures measure the server, its queue and its storage.
Then every run is looked up in `GET /v1/runs`: each request must have exactly one run, finished as `succeeded`.
Prints p50/p95/max latency per entry point and overall, the error count and the lost-run count (both must be 0),
writes benchmarks/results/load_server.json, and exits 1 if any request failed or any run was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from _common import pct

from hugginggpt.server.launch import free_port, spawn_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
REQUEST = "what is the sentiment of: I love this movie, the acting was wonderful"
USER = {"role": "user", "content": REQUEST}
# Entry point -> (share of the requests, the run `source` it records).
KINDS = {"openai": (0.35, "openai"), "openai-stream": (0.15, "openai"), "jarvis": (0.25, "jarvis"),
         "runs+sse": (0.25, "api")}


async def one(http: httpx.AsyncClient, kind: str) -> tuple[str, float, str | None]:
    """One request of ``kind``; returns (kind, seconds, error or None). The answer must name the sentiment."""
    t0 = time.perf_counter()
    try:
        if kind == "openai":
            r = await http.post("/v1/chat/completions", json={"model": "hugginggpt", "messages": [USER]})
            r.raise_for_status()
            text = r.json()["choices"][0]["message"]["content"]
        elif kind == "openai-stream":
            text = ""
            async with http.stream("POST", "/v1/chat/completions", json={
                    "model": "hugginggpt", "messages": [USER], "stream": True}) as r:
                r.raise_for_status()
                async for line in r.aiter_lines():
                    if line.startswith("data: {"):
                        chunk = json.loads(line[6:])
                        if "error" in chunk:
                            raise RuntimeError(chunk["error"]["message"])
                        text += "".join(c["delta"].get("content") or "" for c in chunk["choices"])
        elif kind == "jarvis":
            r = await http.post("/hugginggpt", json={"messages": [USER]})
            r.raise_for_status()
            text = r.json()["message"]
        else:
            r = await http.post("/v1/runs", json={"request": REQUEST})
            r.raise_for_status()
            last: dict[str, Any] = {}
            async with http.stream("GET", r.json()["events_url"]) as events:
                async for line in events.aiter_lines():
                    if line.startswith("data: "):
                        last = json.loads(line[6:])
            if last.get("kind") != "answer" or last.get("status") != "succeeded":
                raise RuntimeError(f"run ended with {last.get('kind')} {last.get('status')}")
            text = last.get("message", "")
        if "positive" not in text:
            return kind, time.perf_counter() - t0, f"unexpected answer: {text[:80]!r}"
        return kind, time.perf_counter() - t0, None
    except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as exc:
        return kind, time.perf_counter() - t0, f"{kind}: {type(exc).__name__}: {str(exc)[:200]}"


async def load(base_url: str, n: int, concurrency: int) -> tuple[list[tuple[str, float, str | None]], float,
                                                                  dict[str, Any]]:
    limits = httpx.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency)
    kinds = [k for k, (share, _) in KINDS.items() for _ in range(round(share * n))]
    kinds = (kinds + ["openai"] * n)[:n]
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=600) as http:
        for kind in KINDS:  # warm-up: planner and expert loaded once, one run per entry point
            _, _, err = await one(http, kind)
            if err:
                raise SystemExit(f"warm-up failed: {err}")
        before = {r["id"] for r in (await http.get("/v1/runs", params={"limit": 500})).json()["runs"]}
        gate = asyncio.Semaphore(concurrency)

        async def limited(kind: str) -> tuple[str, float, str | None]:
            async with gate:
                return await one(http, kind)

        t0 = time.perf_counter()
        results = await asyncio.gather(*(limited(k) for k in kinds))
        wall = time.perf_counter() - t0
        runs = [r for r in (await http.get("/v1/runs", params={"limit": 500})).json()["runs"]
                if r["id"] not in before]
    expected = Counter(KINDS[k][1] for k in kinds)
    recorded = Counter(r["source"] for r in runs if r["status"] == "succeeded")
    lost = sum(max(0, expected[s] - recorded[s]) for s in expected)
    audit = {"runs_expected": dict(expected), "runs_succeeded": dict(recorded), "runs_lost": lost,
             "runs_other_status": dict(Counter(r["status"] for r in runs if r["status"] != "succeeded"))}
    return results, wall, audit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    if args.requests > 500:
        raise SystemExit("--requests is at most 500 (the run listing this checks returns 500 runs)")
    with tempfile.TemporaryDirectory(prefix="hg-load-") as tmp:
        port = free_port()
        env = {"HF_HUB_OFFLINE": "1", "HUGGINGGPT_CONFIG": str(Path(tmp) / "none.yaml")}
        proc = spawn_server(port, Path(tmp), log=Path(tmp) / "server.log", env=env)
        try:
            results, wall, audit = asyncio.run(load(f"http://127.0.0.1:{port}", args.requests, args.concurrency))
        finally:
            stop_server(proc)
    errors = [e for _, _, e in results if e]
    lat = [t for _, t, _ in results]
    row: dict[str, Any] = {
        "requests": args.requests, "concurrency": args.concurrency, "errors": len(errors), **audit,
        "p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "max_s": max(lat), "mean_s": statistics.mean(lat),
        "wall_s": wall, "req_per_s": args.requests / wall,
        "by_entry_point": {k: {"requests": len(v), "p50_s": pct(v, 50), "p95_s": pct(v, 95)}
                           for k in KINDS if (v := [t for kind, t, _ in results if kind == k])},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    print(f"\nHTTP API load test ({row['machine']}; request: sentiment, embedded default config)")
    print(f"{'entry point':>14} {'requests':>8} {'p50 s':>7} {'p95 s':>7}")
    for k, v in row["by_entry_point"].items():
        print(f"{k:>14} {v['requests']:>8} {v['p50_s']:>7.2f} {v['p95_s']:>7.2f}")
    print(f"{'all':>14} {args.requests:>8} {row['p50_s']:>7.2f} {row['p95_s']:>7.2f}   max {row['max_s']:.2f} s, "
          f"wall {wall:.2f} s, {row['req_per_s']:.1f} req/s")
    print(f"errors: {len(errors)}, lost runs: {audit['runs_lost']} (runs recorded: {audit['runs_succeeded']})")
    for e in errors[:5]:
        print("error:", e)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load_server.json").write_text(json.dumps(row, indent=2))
    sys.exit(1 if errors or audit["runs_lost"] else 0)


if __name__ == "__main__":
    main()
