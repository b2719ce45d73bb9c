"""Load test of the OpenAI-compatible route: N concurrent chat completions on loopback, embedded default config.

Usage: python benchmarks/load_openai.py [--requests 50] [--concurrency 50] [--stream]
Starts `python -m hugginggpt.server` on a free loopback port with a fresh workspace, warms it up with two requests,
then sends the requests at once with the `openai` client (AsyncOpenAI). The request is a cheap one (sentiment:
planner + VADER, no LLM call). Prints p50/p95/max latency and the error count (which must be 0), and writes
benchmarks/results/load_openai.json. Exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai
from _common import pct

from hugginggpt.server.launch import free_port, spawn_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
REQUEST = "what is the sentiment of: I love this movie, the acting was wonderful"


def start_server(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    env = {"HF_HUB_OFFLINE": "1", "HUGGINGGPT_CONFIG": str(workspace / "none.yaml")}
    return spawn_server(port, workspace, log=workspace / "server.log", env=env)


async def one(client: openai.AsyncOpenAI, stream: bool) -> tuple[float, str | None]:
    t0 = time.perf_counter()
    try:
        if stream:
            text = ""
            async for chunk in await client.chat.completions.create(
                    model="hugginggpt", messages=[{"role": "user", "content": REQUEST}], stream=True):
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
        else:
            resp = await client.chat.completions.create(model="hugginggpt",
                                                        messages=[{"role": "user", "content": REQUEST}])
            text = resp.choices[0].message.content or ""
        if "positive" not in text:
            return time.perf_counter() - t0, f"unexpected answer: {text[:80]!r}"
        return time.perf_counter() - t0, None
    except openai.OpenAIError as exc:
        return time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"


async def load(base_url: str, n: int, concurrency: int, stream: bool) -> tuple[list[float], list[str], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=600) as http:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0, http_client=http)
        for _ in range(2):  # warm-up: planner and expert loaded once
            _, err = await one(client, stream)
            if err:
                raise SystemExit(f"warm-up failed: {err}")
        gate = asyncio.Semaphore(concurrency)

        async def limited() -> tuple[float, str | None]:
            async with gate:
                return await one(client, stream)

        t0 = time.perf_counter()
        results = await asyncio.gather(*(limited() for _ in range(n)))
        wall = time.perf_counter() - t0
    return [r[0] for r in results], [r[1] for r in results if r[1]], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--stream", action="store_true", help="Use stream=true (SSE) requests.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hg-load-") as tmp:
        port = free_port()
        proc = start_server(Path(tmp), port)
        try:
            lat, errors, wall = asyncio.run(load(f"http://127.0.0.1:{port}/v1", args.requests, args.concurrency,
                                                 args.stream))
        finally:
            stop_server(proc)
    row = {"requests": args.requests, "concurrency": args.concurrency, "stream": args.stream,
           "errors": len(errors), "p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "max_s": max(lat),
           "mean_s": statistics.mean(lat), "wall_s": wall, "req_per_s": args.requests / wall,
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    print(f"\nOpenAI-compatible load test ({row['machine']}; request: sentiment, embedded default)")
    print(f"{'requests':>8} {'conc.':>5} {'stream':>6} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} "
          f"{'wall s':>7} {'req/s':>6}")
    print(f"{row['requests']:>8} {row['concurrency']:>5} {str(row['stream']).lower():>6} {row['errors']:>6} "
          f"{row['p50_s']:>7.2f} {row['p95_s']:>7.2f} {row['max_s']:>7.2f} {row['wall_s']:>7.2f} "
          f"{row['req_per_s']:>6.1f}")
    for e in errors[:5]:
        print("error:", e)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load_openai.json").write_text(json.dumps(row, indent=2))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
