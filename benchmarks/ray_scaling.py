"""Ray on this machine: what it costs, how the orchestration scales on a simulated cluster, threads against Ray.

Usage: python benchmarks/ray_scaling.py [--quick]
Three parts, each in its own fresh process (so one part's Ray or models do not weigh on the next):

1. **cost**: ``ray.init`` (local, 2 CPUs, no dashboard) wall time, the first actor's round trip, and the idle
   memory: the driver's RSS growth and the RSS of every process Ray started (summed; shared pages are counted
   once per process, so this is an upper bound); then Serve on top (its controller and HTTP proxy, one trivial
   deployment ready) and the memory that adds.
2. **scaling**: a simulated cluster (``ray.cluster_utils.Cluster``) of 1, 2, 4 and 8 nodes, each declaring one
   expert slot (custom resource ``slot: 1``) and holding one actor whose expert sleeps 0.2 s per call; 64
   concurrent requests of 4 parallel tasks each. Throughput relative to 1 node and the efficiency (throughput /
   (nodes x 1-node throughput)); the goal at 8 nodes is >= 0.85. Measured twice: with plain Ray actors (each task
   goes to whichever slot is free), and through the whole agent with ``execution.engine: ray`` (planning, model
   selection, the Ray executor, the answer): that engine keeps one actor per model and asks 1 CPU for each, so
   there each node has 1 CPU and holds one sleep model serving its own text task type, and a request's 4 tasks go
   to 4 consecutive models.
3. **experts**: real embedded experts through the whole agent (a fixed plan per request, real model selection,
   execution and answer), ``execution.engine: threads`` then ``ray``: 20 concurrent mixed requests (caption,
   transcription of espeak-ng speech, speech synthesis, image classification) after one warm-up request of each
   kind; throughput, p50/p95 latency, peak RSS of the controller and of all its processes (sampled every 50 ms).

Prints a table per part, writes benchmarks/results/ray_scaling.json. ``--quick`` (CI smoke): 1 and 2 nodes with 16
requests, 8 expert requests.
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
import threading
import time
from pathlib import Path
from typing import Any

from _common import pct

ROOT = Path(__file__).resolve().parents[1]
SLEEP_S = 0.2
TASKS_PER_REQUEST = 4
PAGE = os.sysconf("SC_PAGE_SIZE")


# ----- memory of a process tree (Linux /proc) -----------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def descendants(root: int) -> list[int]:
    """Every live process under ``root`` (Ray's GCS, raylets, agents and workers are children of the driver)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parent.items() if pp == pid]
        out += kids
        frontier += kids
    return out


class PeakRSS:
    """Samples the RSS of this process and of the sum over it and its descendants until stopped."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.own = self.tree = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            own = rss_mb(me)
            self.own = max(self.own, own)
            self.tree = max(self.tree, own + sum(rss_mb(p) for p in descendants(me)))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ----- part 1: Ray's cost -------------------------------------------------------------------------------------------
def part_cost(quick: bool) -> dict[str, Any]:
    me = os.getpid()
    before = rss_mb(me)
    t0 = time.perf_counter()
    import ray

    imported = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()

    @ray.remote(num_cpus=0)
    class Ping:
        def ping(self) -> int:
            return os.getpid()

    actor = Ping.remote()
    ray.get(actor.ping.remote())
    first_actor = time.perf_counter()
    t1 = time.perf_counter()
    for _ in range(100):
        ray.get(actor.ping.remote())
    call_ms = (time.perf_counter() - t1) * 10
    ray.kill(actor)
    time.sleep(3.0)  # let the start-up settle (workers prestarted, agents up)
    procs = descendants(me)
    row = {"import_s": imported - t0, "init_s": started - imported, "first_actor_s": first_actor - started,
           "actor_call_ms": call_ms, "driver_rss_growth_mb": rss_mb(me) - before,
           "ray_processes": len(procs), "ray_processes_rss_mb": sum(rss_mb(p) for p in procs)}
    row.update(_serve_cost(me, row["ray_processes_rss_mb"] + rss_mb(me)))
    row["shutdown_s"] = shutdown_ray(ray)
    return row


def _serve_cost(me: int, before_mb: float) -> dict[str, Any]:
    """Serve on top of the running Ray: its controller and HTTP proxy, and one trivial deployment ready."""
    from ray import serve

    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class Hello:
        def __call__(self, request: Any) -> str:
            return "hello"

    t = time.perf_counter()
    serve.start(http_options={"host": "127.0.0.1", "port": 0})
    serve.run(Hello.bind(), name="cost", route_prefix="/hello")
    ready = time.perf_counter() - t
    time.sleep(2.0)
    total = rss_mb(me) + sum(rss_mb(p) for p in descendants(me))
    row = {"serve_start_and_deploy_s": ready, "serve_added_rss_mb": total - before_mb}
    serve.shutdown()
    return row


def shutdown_ray(ray: Any) -> float:
    """``ray.shutdown()`` (returns its seconds), then stop what it left of this process's descendants (agents
    orphaned on a busy machine)."""
    me = os.getpid()
    left = descendants(me)
    t = time.perf_counter()
    ray.shutdown()
    seconds = time.perf_counter() - t
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in left):
        time.sleep(0.2)
    for pid in left:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"ray" in f.read():  # still the same process (not a reused pid)
                    os.kill(pid, 15)
        except OSError:
            pass
    return seconds


# ----- part 2: scaling of the orchestration on a simulated cluster -------------------------------------------------
def _scaling_run(nodes: int, requests: int) -> dict[str, Any]:
    from ray.cluster_utils import Cluster

    import ray

    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(nodes):
        cluster.add_node(num_cpus=0, resources={"slot": 1})
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        @ray.remote(num_cpus=0, resources={"slot": 1})
        class SleepExpert:
            """An expert bound by something else than this machine's CPUs (a GPU, a remote API): it sleeps."""

            def run(self, seconds: float) -> str:
                time.sleep(seconds)
                return ray.get_runtime_context().get_node_id()

        actors = [SleepExpert.remote() for _ in range(nodes)]
        node_ids = set(ray.get([a.run.remote(0.0) for a in actors]))
        ready = time.perf_counter() - t0

        async def load() -> tuple[float, list[float], dict[str, int]]:
            free: asyncio.Queue[Any] = asyncio.Queue()
            for a in actors:
                free.put_nowait(a)
            used: dict[str, int] = {}

            async def task() -> None:
                actor = await free.get()
                try:
                    node = await actor.run.remote(SLEEP_S)
                    used[node] = used.get(node, 0) + 1
                finally:
                    free.put_nowait(actor)

            async def request() -> float:
                t = time.perf_counter()
                await asyncio.gather(*(task() for _ in range(TASKS_PER_REQUEST)))
                return time.perf_counter() - t

            t = time.perf_counter()
            lat = await asyncio.gather(*(request() for _ in range(requests)))
            return time.perf_counter() - t, list(lat), used

        wall, lat, used = asyncio.run(load())
    finally:
        shutdown_ray(ray)
        cluster.shutdown()
    calls = requests * TASKS_PER_REQUEST
    return {"nodes": nodes, "distinct_nodes_used": len(node_ids), "cluster_ready_s": ready, "requests": requests,
            "calls": calls, "wall_s": wall, "ideal_wall_s": calls * SLEEP_S / nodes, "req_per_s": requests / wall,
            "p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "calls_per_node": sorted(used.values())}


def _cluster_sizes(quick: bool) -> tuple[tuple[int, ...], int]:
    """The node counts to run and the requests per run."""
    return ((1, 2), 16) if quick else ((1, 2, 4, 8), 64)


def _scaling_report(rows: list[dict[str, Any]], orchestration: str) -> dict[str, Any]:
    """The rows of one scaling part, each with its speedup over the first (one node) and its efficiency."""
    base = rows[0]["req_per_s"]
    for r in rows:
        r["speedup"] = r["req_per_s"] / base
        r["efficiency"] = r["speedup"] / r["nodes"]
    return {"sleep_s": SLEEP_S, "tasks_per_request": TASKS_PER_REQUEST, "rows": rows, "orchestration": orchestration}


def part_scaling(quick: bool) -> dict[str, Any]:
    sizes, requests = _cluster_sizes(quick)
    return _scaling_report([_scaling_run(n, requests) for n in sizes],
                           "plain Ray actors, one per node (custom resource slot: 1), asyncio dispatch to the "
                           "first free slot")


# ----- part 2b: the same cluster through the whole agent (execution.engine: ray) -----------------------------------
# One sleep model per node, each serving its own text task type (the engine keeps one actor per model and a plan's
# tasks get their model by task type); a request's 4 tasks go to 4 consecutive models.
SLEEP_TYPES = ("summarization", "translation", "text-classification", "token-classification", "text-generation",
               "text2text-generation", "feature-extraction", "conversational")


def sleep_experts() -> list[type[Any]]:
    from hugginggpt.experts.base import Expert, ExpertResult

    def run(self: Any, inputs: dict[str, Any]) -> Any:
        time.sleep(SLEEP_S)
        return ExpertResult.of_text("slept", pid=os.getpid())

    return [type(f"Sleep{k}", (Expert,), {"task": t, "model_id": f"bench/sleep-{k}", "run": run})
            for k, t in enumerate(SLEEP_TYPES)]


class SleepBackend:
    """Serves the sleep experts; ``worker_factory`` rebuilds it in each Ray actor (benchmarks/ is on its path)."""

    name = "bench-sleep"
    worker_factory = "ray_scaling:worker_backend"

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.classes = {c.model_id: c for c in sleep_experts()}

    def status(self) -> tuple[bool, str]:
        return True, "sleep experts"

    def can_serve(self, card: Any) -> tuple[bool, str]:
        return card.id in self.classes, "sleep expert"

    def expert(self, card: Any, request: str = "") -> Any:
        return self.pool.get(self.classes[card.id])


def worker_backend(config: Any, pool: Any) -> SleepBackend:
    return SleepBackend(pool)


class RoundRobinPlanner:
    """Request ``"<i>"``: 4 parallel tasks on the task types (i*4 + j) mod n."""

    name = "fixed"

    def __init__(self, n: int) -> None:
        self.n = n

    def plan(self, request: str, context: Any) -> Any:
        from hugginggpt.planning.base import PlanOutcome
        from hugginggpt.planning.validate import repair_plan
        from hugginggpt.tasks import default_registry

        i = int(request)
        tasks = [{"task": SLEEP_TYPES[(i * TASKS_PER_REQUEST + j) % self.n], "id": j, "dep": [-1],
                  "args": {"text": f"request {i} task {j}"}} for j in range(TASKS_PER_REQUEST)]
        plan, notes = repair_plan(tasks, default_registry())
        return PlanOutcome(plan=plan, planner=self.name, notes=notes)


def _agent_scaling_run(nodes: int, requests: int, root: Path) -> dict[str, Any]:
    from ray.cluster_utils import Cluster

    import ray
    from hugginggpt.agent import HuggingGPT
    from hugginggpt.catalog.cards import ModelCard
    from hugginggpt.config import HuggingGPTConfig

    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(nodes):
        cluster.add_node(num_cpus=1, resources={"slot": 1})
    ray.init(address=cluster.address, namespace=f"hg-bench-{os.getpid()}-{nodes}", log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        types = SLEEP_TYPES[:nodes]

        class SleepAgent(HuggingGPT):
            def backends(self, llm: Any | None = None) -> list[Any]:
                return [SleepBackend(self.pool), *super().backends(llm)]

        config = HuggingGPTConfig(
            workspace=root / f"ws{nodes}", allowed_dirs=[root], cache=False, max_parallel=TASKS_PER_REQUEST,
            overrides={t: f"bench/sleep-{k}" for k, t in enumerate(types)},
            execution={"engine": "ray", "ray_memory_budget_mb": 1 << 20})
        agent = SleepAgent(config, planner=RoundRobinPlanner(nodes), base_dir=root)
        for k, t in enumerate(SLEEP_TYPES):
            agent.catalog.add(ModelCard(id=f"bench/sleep-{k}", task=t, source="user", description="sleeps"))

        async def one(i: int) -> tuple[float, list[str]]:
            t = time.perf_counter()
            run = await agent.arun(str(i))
            errors = [f"{r.error.type}: {r.error.message[:100]}" for r in run.results if r.status != "ok"]
            return time.perf_counter() - t, errors

        async def load() -> tuple[float, list[tuple[float, list[str]]]]:
            for i in range(max(1, nodes // TASKS_PER_REQUEST)):  # every model's actor started and placed
                _, errors = await one(i)
                if errors:
                    raise SystemExit(f"warm-up failed: {errors[:2]}")
            t = time.perf_counter()
            res = await asyncio.gather(*(one(i) for i in range(requests)))
            return time.perf_counter() - t, list(res)

        ready = time.perf_counter() - t0
        wall, results = asyncio.run(load())
        engine = agent._engine_state["ray"]
        nodes_used = len({a.node for a in engine.actors.values() if a.node})
        engine.shutdown_actors()
    finally:
        shutdown_ray(ray)
        cluster.shutdown()
    lat = [t for t, _ in results]
    errors = [e for _, errs in results for e in errs]
    calls = requests * TASKS_PER_REQUEST
    return {"nodes": nodes, "distinct_nodes_used": nodes_used, "cluster_ready_s": ready, "requests": requests,
            "calls": calls, "errors": len(errors), "first_errors": errors[:3], "wall_s": wall,
            "ideal_wall_s": calls * SLEEP_S / nodes, "req_per_s": requests / wall, "p50_s": pct(lat, 50),
            "p95_s": pct(lat, 95)}


def part_scaling_agent(quick: bool) -> dict[str, Any]:
    sizes, requests = _cluster_sizes(quick)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parent),
                                                            os.environ.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="hg-ray-agent-") as tmp:
        rows = [_agent_scaling_run(n, requests, Path(tmp)) for n in sizes]
    return _scaling_report(rows, "the whole agent, execution.engine: ray (one actor per model, one model per node)")


# ----- part 3: real experts, threads against ray --------------------------------------------------------------------
KINDS = {
    "caption": ("image-to-text", {"image": "photo.png"}),
    "transcription": ("automatic-speech-recognition", {"audio": "speech.wav"}),
    "speech": ("text-to-speech", {"text": "Your order has shipped and will arrive on Tuesday."}),
    "classification": ("image-classification", {"image": "photo.png"}),
}
OVERRIDES = {"image-to-text": "hugginggpt/composite-captioner",
             "automatic-speech-recognition": "hugginggpt/whisper-tiny.en",
             "text-to-speech": "hugginggpt/piper-joe-medium", "image-classification": "hugginggpt/efficientnet-lite0"}


class KindPlanner:
    """The plan of each request kind (stage 1 is not what is measured): one task, through the real repair code."""

    name = "fixed"

    def plan(self, request: str, context: Any) -> Any:
        from hugginggpt.planning.base import PlanOutcome
        from hugginggpt.planning.validate import repair_plan
        from hugginggpt.tasks import default_registry

        task, args = KINDS[request.split(":", 1)[0]]
        plan, notes = repair_plan([{"task": task, "id": 0, "dep": [-1], "args": dict(args)}], default_registry())
        return PlanOutcome(plan=plan, planner=self.name, notes=notes)


def _media(root: Path) -> None:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), (40, 120, 200))
    ImageDraw.Draw(img).ellipse((90, 50, 230, 200), fill=(230, 180, 40))
    img.save(root / "photo.png")
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(root / "speech.wav"),
                    "Please bring the blue folder to the meeting room tomorrow morning."], check=True, timeout=60)


def part_experts(engine: str, quick: bool) -> dict[str, Any]:
    from hugginggpt.agent import HuggingGPT
    from hugginggpt.config import HuggingGPTConfig

    n = 8 if quick else 20
    with tempfile.TemporaryDirectory(prefix="hg-ray-bench-") as tmp:
        root = Path(tmp)
        _media(root)
        # ray_num_cpus 4: one actor (1 logical CPU) per model of the mix, on this machine's 2 cores.
        config = HuggingGPTConfig(
            workspace=root / "ws", allowed_dirs=[root], overrides=OVERRIDES, cache=False, max_parallel=1,
            execution={"engine": engine, "ray_num_cpus": 4, "ray_namespace": f"hg-bench-{os.getpid()}"})
        agent = HuggingGPT(config, planner=KindPlanner(), base_dir=root)
        kinds = list(KINDS)
        mix = [kinds[i % len(kinds)] for i in range(n)]

        async def one(kind: str) -> tuple[str, float, str | None]:
            t = time.perf_counter()
            run = await agent.arun(f"{kind}: request")
            bad = [r for r in run.results if r.status != "ok"]
            err = f"{bad[0].error.type}: {bad[0].error.message[:120]}" if bad else run.error
            return kind, time.perf_counter() - t, err

        async def main() -> tuple[float, float, list[tuple[str, float, str | None]]]:
            t = time.perf_counter()
            warm = [await one(k) for k in kinds]  # Ray started, models loaded (in actors or in this process)
            warm_s = time.perf_counter() - t
            if any(e for _, _, e in warm):
                raise SystemExit(f"warm-up failed: {[e for _, _, e in warm if e]}")
            t = time.perf_counter()
            res = await asyncio.gather(*(one(k) for k in mix))
            return warm_s, time.perf_counter() - t, list(res)

        with PeakRSS() as peak:
            warm_s, wall, results = asyncio.run(main())
        if engine == "ray":
            agent._engine_state["ray"].shutdown_actors()
            import ray

            shutdown_ray(ray)
    lat = [t for _, t, _ in results]
    errors = [e for _, _, e in results if e]
    return {"engine": engine, "requests": n, "errors": len(errors), "first_errors": errors[:3],
            "warmup_s": warm_s, "wall_s": wall, "req_per_s": n / wall, "p50_s": pct(lat, 50), "p95_s": pct(lat, 95),
            "mean_s": statistics.mean(lat), "peak_controller_rss_mb": peak.own, "peak_all_rss_mb": peak.tree,
            "by_kind_p50_s": {k: pct([t for kind, t, _ in results if kind == k], 50) for k in kinds}}


# ----- driver -------------------------------------------------------------------------------------------------------
def _child(part: str, quick: bool, timeout: float) -> dict[str, Any]:
    """One part in a fresh process; a part that fails is run once more (the failure is kept in the report)."""
    cmd = [sys.executable, __file__, "--part", part] + (["--quick"] if quick else [])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0",
           "HUGGINGGPT_CONFIG": os.devnull}
    failures: list[str] = []
    for _ in range(2):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode == 0 and lines:
            return {**json.loads(lines[-1]), "failed_attempts": failures}
        failures.append(f"exit {proc.returncode}: {(proc.stdout[-600:] + proc.stderr[-900:]).strip()}")
    return {"error": failures[-1], "failed_attempts": failures}


def _print(report: dict[str, Any]) -> None:
    print(f"\nRay on {report['machine']}")
    cost = report["cost"]
    if "error" not in cost:
        print(f"cost: import {cost['import_s']:.2f} s, ray.init {cost['init_s']:.2f} s, first actor "
              f"{cost['first_actor_s']:.2f} s, actor call {cost['actor_call_ms']:.2f} ms; idle: "
              f"{cost['ray_processes']} processes, {cost['ray_processes_rss_mb']:.0f} MB RSS, driver "
              f"+{cost['driver_rss_growth_mb']:.0f} MB; shutdown {cost['shutdown_s']:.2f} s")
        print(f"Serve on top: start + one deployment ready {cost['serve_start_and_deploy_s']:.2f} s, "
              f"+{cost['serve_added_rss_mb']:.0f} MB RSS")
    for key in ("scaling", "scaling_agent"):
        scaling = report[key]
        if "error" in scaling:
            print(f"\n{key} failed: {scaling['error'][-300:]}")
            continue
        print(f"\nscaling ({scaling['orchestration']}; {TASKS_PER_REQUEST} tasks x {SLEEP_S} s per request)")
        print(f"{'nodes':>5} {'requests':>8} {'wall s':>7} {'ideal s':>7} {'req/s':>6} {'speedup':>7} {'eff':>5} "
              f"{'p50 s':>6} {'p95 s':>6} {'ready s':>7}")
        for r in scaling["rows"]:
            print(f"{r['nodes']:>5} {r['requests']:>8} {r['wall_s']:>7.2f} {r['ideal_wall_s']:>7.2f} "
                  f"{r['req_per_s']:>6.2f} {r['speedup']:>7.2f} {r['efficiency']:>5.2f} {r['p50_s']:>6.2f} "
                  f"{r['p95_s']:>6.2f} {r['cluster_ready_s']:>7.1f}")
    retried = [k for k in ("cost", "scaling", "scaling_agent") if report[k].get("failed_attempts")]
    retried += [e for e, r in report["experts"].items() if r.get("failed_attempts")]
    if retried:
        print(f"\nparts run twice (first attempt failed, see failed_attempts in the JSON): {', '.join(retried)}")
    print("\nreal experts through the agent (caption, transcription, speech, classification)")
    print(f"{'engine':>7} {'requests':>8} {'errors':>6} {'warm-up s':>9} {'req/s':>6} {'p50 s':>6} {'p95 s':>6} "
          f"{'ctrl MB':>7} {'all MB':>7}")
    for engine in ("threads", "ray"):
        r = report["experts"][engine]
        if "error" in r:
            print(f"{engine:>7} failed: {r['error'][-300:]}")
            continue
        print(f"{engine:>7} {r['requests']:>8} {r['errors']:>6} {r['warmup_s']:>9.1f} {r['req_per_s']:>6.2f} "
              f"{r['p50_s']:>6.2f} {r['p95_s']:>6.2f} {r['peak_controller_rss_mb']:>7.0f} "
              f"{r['peak_all_rss_mb']:>7.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI smoke: fewer nodes and requests.")
    parser.add_argument("--part", choices=["cost", "scaling", "scaling-agent", "threads", "ray"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:  # one part, in this fresh process: its JSON on the last line
        part = {"cost": part_cost, "scaling": part_scaling, "scaling-agent": part_scaling_agent}.get(args.part)
        row = part(args.quick) if part else part_experts(args.part, args.quick)
        print(json.dumps(row))
        return
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "quick": args.quick, "cost": _child("cost", args.quick, 300), "scaling": _child("scaling", args.quick, 1200),
        "scaling_agent": _child("scaling-agent", args.quick, 1200),
        "experts": {e: _child(e, args.quick, 900) for e in ("threads", "ray")}}
    try:
        import ray

        report["ray_version"] = ray.__version__
    except ImportError:
        pass
    _print(report)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "ray_scaling_quick.json" if args.quick else "ray_scaling.json"
    (out / name).write_text(json.dumps(report, indent=2))
    failed = [k for k in ("cost", "scaling", "scaling_agent") if "error" in report[k]]
    failed += [f"scaling_agent {r['nodes']}" for r in report["scaling_agent"].get("rows", []) if r["errors"]]
    failed += [e for e, r in report["experts"].items() if "error" in r or r.get("errors")]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
