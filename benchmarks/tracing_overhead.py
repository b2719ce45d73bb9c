"""What tracing costs per run (results: benchmarks/results/tracing_overhead.json).

Each mode runs in its own process (a provider, once installed, cannot be removed), with the same agent settings
(offline planner, embedded experts, result and plan caches off so every run really runs its expert):

* ``off``: nothing configured, the OpenTelemetry API's no-op tracer;
* ``console``: the console exporter (JSON of every span, written to /dev/null here instead of stderr);
* ``otlp-http``: the OTLP/HTTP exporter sending to a receiver on loopback (this process; it decodes and counts the
  spans, so the spans per run are real counts).

Two requests: ``text`` (sentiment of a sentence: one fast task, where a fixed cost shows most) and ``image``
(describe a generated PNG: one image-to-text task). Per mode and request: ``--runs`` timed runs after
``--warmup`` untimed ones; modes are interleaved over ``--rounds`` rounds so drift of a shared machine spreads
evenly. Reported: median, mean and p90 seconds per run, and the median's difference from ``off``.

    python benchmarks/tracing_overhead.py --runs 15 --rounds 2   # the defaults
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import pct  # noqa: E402

MODES = ("off", "console", "otlp-http")
REQUESTS = {"text": "What is the sentiment of: I love this movie, the acting was wonderful.",
            "image": "Describe photo.png."}


# ----- the worker: one mode, in its own process ---------------------------------------------------------------
def worker(mode: str, endpoint: str | None, runs: int, warmup: int, out: Path) -> None:
    import logging

    from PIL import Image, ImageDraw

    from hugginggpt import HuggingGPT, HuggingGPTConfig
    from hugginggpt.config import TracingSettings
    from hugginggpt.observability.tracing import force_flush, setup_tracing

    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        img = Image.new("RGB", (320, 240), "white")
        ImageDraw.Draw(img).ellipse([40, 30, 280, 210], fill="red")
        img.save(tmp / "photo.png")
        config = HuggingGPTConfig(workspace=tmp / "ws", allowed_dirs=[tmp], cache={"enabled": False, "plans": False})
        agent = HuggingGPT(config, base_dir=tmp)
        devnull = open(os.devnull, "w")  # noqa: SIM115 - open for the worker's whole life
        if mode == "console":
            setup_tracing(TracingSettings(exporter="console"), console_out=devnull)
        elif mode == "otlp-http":
            setup_tracing(TracingSettings(exporter="otlp-http", endpoint=endpoint))
        result: dict[str, Any] = {}
        for name, request in REQUESTS.items():
            for _ in range(warmup):
                agent.run(request)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                run = agent.run(request)
                times.append(time.perf_counter() - t0)
                if run.status != "succeeded":
                    raise SystemExit(f"{name} run {run.status}: {[(r.task.task, r.error) for r in run.results]}")
            result[name] = times
        result["span_tree_us"] = span_tree_us()
        force_flush()
        out.write_text(json.dumps(result), encoding="utf-8")


TREES, BATCH = 2000, 200


def span_tree_us() -> float:
    """Microseconds to make one run's span tree (run, four stages, a task, an expert and an LLM call, with the
    attributes the code sets) in this mode: the tracing cost alone, free of the experts' variance. In batches of
    200 trees with an (untimed) flush between them, so the exporter's queue (2048 spans) never drops any."""
    from hugginggpt.observability.tracing import force_flush

    spent = 0.0
    for b in range(TREES // BATCH):
        t0 = time.perf_counter()
        _trees(b * BATCH, BATCH)
        spent += time.perf_counter() - t0
        force_flush()
    return round(spent / TREES * 1e6, 2)


def _trees(first: int, n: int) -> None:
    from hugginggpt.observability.tracing import get_tracer

    tracer = get_tracer()
    for i in range(first, first + n):
        with tracer.start_as_current_span("hugginggpt.run", attributes={"hugginggpt.run_id": str(i)}):
            for stage in ("plan", "select", "execute", "respond"):
                with tracer.start_as_current_span(f"hugginggpt.stage.{stage}"):
                    if stage != "execute":
                        continue
                    with tracer.start_as_current_span("hugginggpt.task") as task:
                        if task.is_recording():
                            task.set_attributes({"hugginggpt.task.id": 0, "hugginggpt.task.name": "image-to-text",
                                                 "hugginggpt.task.status": "ok"})
                        with tracer.start_as_current_span("hugginggpt.expert") as expert:
                            if expert.is_recording():
                                expert.set_attributes({"hugginggpt.model_id": "m", "hugginggpt.backend": "embedded",
                                                       "cache.hit": False})
                        with tracer.start_as_current_span("hugginggpt.llm") as llm:
                            if llm.is_recording():
                                llm.set_attributes({"openinference.span.kind": "LLM", "llm.token_count.prompt": 100,
                                                    "llm.token_count.completion": 20})


# ----- the parent: a counting OTLP/HTTP receiver, the workers, the summary --------------------------------------
class Receiver:
    def __init__(self) -> None:
        self.spans = 0
        self.names: dict[str, int] = {}
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

                req = ExportTraceServiceRequest()
                req.ParseFromString(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with lock:
                    for rs in req.resource_spans:
                        for ss in rs.scope_spans:
                            for s in ss.spans:
                                owner.spans += 1
                                owner.names[s.name] = owner.names.get(s.name, 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def summary(times: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(times), 5), "mean_s": round(statistics.fmean(times), 5),
            "p90_s": round(pct(times, 90), 5), "n": len(times)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15, help="timed runs per request, mode and round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.endpoint, args.runs, args.warmup, args.out)
        return
    receiver = Receiver()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HUGGINGGPT_TRACING"))}
    env.update(HF_HUB_OFFLINE="1")
    times: dict[str, dict[str, list[float]]] = {m: {r: [] for r in REQUESTS} for m in MODES}
    tree_us: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as d:
        for rnd in range(args.rounds):
            for mode in MODES:
                out = Path(d) / f"{mode}-{rnd}.json"
                cmd = [sys.executable, __file__, "--worker", mode, "--runs", str(args.runs), "--warmup",
                       str(args.warmup), "--endpoint", receiver.url, "--out", str(out)]
                subprocess.run(cmd, env=env, check=True, timeout=1800)
                got = json.loads(out.read_text(encoding="utf-8"))
                tree_us[mode].append(got.pop("span_tree_us"))
                for req, ts in got.items():
                    times[mode][req] += ts
                print(f"round {rnd + 1}/{args.rounds} {mode}: done", flush=True)
    runs_exported = args.rounds * (args.warmup + args.runs) * len(REQUESTS)
    trees_exported = args.rounds * TREES
    result: dict[str, Any] = {"runs_per_mode_and_request": args.runs * args.rounds, "rounds": args.rounds,
                              "cpus": os.cpu_count(), "modes": {}}
    for mode in MODES:
        result["modes"][mode] = {}
        for req in REQUESTS:
            s = summary(times[mode][req])
            base = statistics.median(times["off"][req])
            s["overhead_ms"] = round((s["median_s"] - base) * 1000, 2)
            s["overhead_pct"] = round((s["median_s"] - base) / base * 100, 2)
            result["modes"][mode][req] = s
        result["modes"][mode]["span_tree_us"] = round(statistics.median(tree_us[mode]), 2)
    # The receiver also got the synthetic trees of span_tree_us (8 spans each): counted out here.
    run_spans = receiver.spans - 8 * trees_exported
    result["spans_per_run"] = round(run_spans / runs_exported, 2)
    synthetic = {"hugginggpt.run": 1, "hugginggpt.task": 1, "hugginggpt.expert": 1, "hugginggpt.llm": 1,
                 **{f"hugginggpt.stage.{s}": 1 for s in ("plan", "select", "execute", "respond")}}
    per_run = {k: round((v - synthetic.get(k, 0) * trees_exported) / runs_exported, 2)
               for k, v in sorted(receiver.names.items())}
    result["span_names_per_run"] = {k: v for k, v in per_run.items() if v}
    text = json.dumps(result, indent=1)
    print(text)
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "tracing_overhead.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
