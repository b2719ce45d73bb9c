"""The result and plan caches on the demo requests (examples/demo.py): latency of a repeat, planning tokens saved.

Usage: python benchmarks/cache_repeat.py [--no-plans]

1. Result cache: one agent on the offline planner runs the demo requests once to load its models, the workspace
   cache is cleared, then the requests run twice: the first pass (models warm, cache cold) stores what the
   deterministic experts return, the second is served from it. Reported: the second pass's latency over the
   first's (goal <= 0.2), per request and in total, with the tasks served from the cache and whether the outputs are
   the same files. Piper TTS is not deterministic (docs/observability.md), so the requests that use it
   still run it.
2. Plan cache: the same requests with ``planner: llm`` against a fake OpenAI-compatible server on loopback
   (tests/openai_stub.py, answering as defined below; it is not a model: it replays the offline planner's plan for
   each request, and answers other calls with the first allowed value of their schema or a short text). Its token
   counts are real counts of the prompts and answers with the SmolLM2-135M-Instruct GGUF's tokenizer (as
   benchmarks/controller_tokens.py counts them). A fresh agent runs the requests twice; reported: planning tokens
   of each pass and the tokens saved.

Prints a summary and writes benchmarks/results/cache_repeat.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))  # the fake OpenAI-compatible server

from demo import REQUESTS  # noqa: E402
from make_examples import main as make_examples  # noqa: E402

from hugginggpt import HuggingGPT, HuggingGPTConfig  # noqa: E402
from hugginggpt.agent import plan_only  # noqa: E402
from hugginggpt.cachestore import workspace_cache  # noqa: E402
from hugginggpt.planning.plan_cache import PLAN_CACHE_NOTE  # noqa: E402
from openai_stub import FakeOpenAIServer, Reply, completion  # noqa: E402

GOAL = 0.2


def timed_pass(agent: HuggingGPT) -> list[dict[str, Any]]:
    rows = []
    for request in REQUESTS:
        t0 = time.perf_counter()
        result = agent.run(request)
        rows.append({"request": request, "seconds": round(time.perf_counter() - t0, 4), "status": result.status,
                     "tasks": [r.task.task for r in result.results],
                     "cached": [r.task.task for r in result.results if r.cached],
                     "cached_flags": [r.cached for r in result.results],
                     "outputs": [[a.sha256 for a in r.outputs] for r in result.results],
                     "plan_tokens": _plan_tokens(result.usage), "total_tokens": result.usage.get("total_tokens", 0),
                     "plan_cached": any(n.startswith(PLAN_CACHE_NOTE) for n in result.plan_notes)})
    return rows


def _plan_tokens(usage: dict[str, Any]) -> int:
    plan = (usage.get("by_stage") or {}).get("plan") or {}
    return int(plan.get("prompt_tokens", 0)) + int(plan.get("completion_tokens", 0))


def result_cache(root: Path, ws: Path) -> dict[str, Any]:
    agent = HuggingGPT(HuggingGPTConfig(workspace=ws, allowed_dirs=[root]), base_dir=root)
    timed_pass(agent)  # loads the models
    workspace_cache(agent.config, agent._engine_state).clear()
    first, second = timed_pass(agent), timed_pass(agent)
    per_request = []
    for a, b in zip(first, second, strict=True):
        hits = [i for i, r in enumerate(b["cached_flags"]) if r]
        per_request.append({"request": a["request"], "first_s": a["seconds"], "second_s": b["seconds"],
                            "ratio": round(b["seconds"] / a["seconds"], 3), "tasks": b["tasks"],
                            "cached": b["cached"], "status": [a["status"], b["status"]],
                            # a hit must give back the very files; an expert run again may not (Piper's speech)
                            "same_cached_outputs": all(a["outputs"][i] == b["outputs"][i] for i in hits),
                            "same_outputs": a["outputs"] == b["outputs"]})
    total_first, total_second = sum(r["seconds"] for r in first), sum(r["seconds"] for r in second)
    fully = [r for r in per_request if r["tasks"] and len(r["cached"]) == len(r["tasks"])]
    fully_ratio = round(sum(r["second_s"] for r in fully) / sum(r["first_s"] for r in fully), 3) if fully else None
    return {"per_request": per_request, "first_s": round(total_first, 3), "second_s": round(total_second, 3),
            "ratio": round(total_second / total_first, 3), "goal": GOAL,
            "ratio_fully_cached_requests": fully_ratio, "fully_cached_requests": len(fully)}


# -- the fake planning server ---------------------------------------------------------------------------------------


def instance(schema: dict[str, Any]) -> Any:
    """The simplest value a JSON schema allows (first enum value, required keys only)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: instance(schema["properties"][k]) for k in schema.get("required", [])}
    if kind == "array":
        return []
    return {"integer": 0, "number": 0, "boolean": False}.get(kind, "chosen")


def planning_replies(plans: dict[str, list[dict[str, Any]]], count: Any) -> Callable[[dict[str, Any]], Reply]:
    """The replies of the fake OpenAI-compatible endpoint (not a model): a planning call gets the stored plan of the
    request its prompt ends with, another structured call the simplest allowed value, a plain call a short text.
    Usage counts come from ``count`` (prompt messages, answer text)."""

    def respond(body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or []
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        last = str(messages[-1].get("content", "")) if messages else ""
        if schema and "tasks" in (schema.get("properties") or {}):
            request = max((r for r in plans if r in last), key=len, default=None)
            text = json.dumps({"tasks": plans.get(request, [])}) if request else '{"tasks": []}'
        elif schema:
            text = json.dumps(instance(schema))
        else:
            text = "Done: the results are listed above."
        prompt, answer = count(messages, text)
        return 200, completion(text, model=body.get("model", "fake"), prompt_tokens=prompt, completion_tokens=answer)

    return respond


def token_counter() -> tuple[Any, str]:
    try:
        from controller_tokens import Tokenizer

        tok = Tokenizer()
        return (lambda messages, text: (tok.messages(messages), tok.text(text))), "SmolLM2-135M-Instruct GGUF tokenizer"
    except Exception as exc:  # noqa: BLE001 - no llama.cpp here: estimate, and say so
        print(f"(tokenizer unavailable: {type(exc).__name__}: {exc}; counting characters / 4)")
        return (lambda messages, text: (len(json.dumps(messages)) // 4, len(text) // 4)), "characters / 4 (estimate)"


def plan_cache(root: Path, ws: Path) -> dict[str, Any]:
    offline = HuggingGPT(HuggingGPTConfig(workspace=ws / "offline", allowed_dirs=[root]), base_dir=root)
    plans = {r: plan_only(offline, r).to_jarvis() for r in REQUESTS}
    count, how = token_counter()
    with FakeOpenAIServer(respond=planning_replies(plans, count)) as server:
        config = HuggingGPTConfig(workspace=ws / "llm", allowed_dirs=[root], planner="llm",
                                  llm={"backend": "openai", "base_url": server.url, "model": "fake-planner",
                                       "api_key": "local"})
        first = timed_pass(HuggingGPT(config, base_dir=root))
        calls_first = len(server.requests)
        second = timed_pass(HuggingGPT(config, base_dir=root))  # a new agent, as a new process would be
        calls_second = len(server.requests) - calls_first
    plan_first, plan_second = sum(r["plan_tokens"] for r in first), sum(r["plan_tokens"] for r in second)
    return {"token_count": how, "planning_tokens_first": plan_first, "planning_tokens_second": plan_second,
            "tokens_saved": plan_first - plan_second,
            "total_tokens_first": sum(r["total_tokens"] for r in first),
            "total_tokens_second": sum(r["total_tokens"] for r in second),
            "llm_calls_first": calls_first, "llm_calls_second": calls_second,
            "plans_from_cache": sum(r["plan_cached"] for r in second), "requests": len(REQUESTS),
            "same_plans": [r["tasks"] for r in first] == [r["tasks"] for r in second]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-plans", action="store_true", help="Skip the plan cache part.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_examples(root / "examples")  # the demo's inputs, generated offline (the requests name examples/...)
        out: dict[str, Any] = {"requests": REQUESTS, "result_cache": result_cache(root, root / "ws")}
        if not args.no_plans:
            out["plan_cache"] = plan_cache(root, root / "ws-plans")
    rc = out["result_cache"]
    print(f"{'request':<70} {'first s':>8} {'second s':>9} {'ratio':>6}  cached tasks")
    for r in rc["per_request"]:
        print(f"{r['request'][:70]:<70} {r['first_s']:>8.2f} {r['second_s']:>9.2f} {r['ratio']:>6.3f}  "
              f"{len(r['cached'])}/{len(r['tasks'])}" + ("" if r["same_cached_outputs"] else " CACHED OUTPUTS DIFFER")
              + ("" if r["same_outputs"] else " (an uncached expert gave other bytes)"))
    print(f"result cache: second pass {rc['second_s']:.2f} s / first {rc['first_s']:.2f} s = {rc['ratio']:.3f} "
          f"(goal <= {GOAL}); requests served wholly from the cache: {rc['fully_cached_requests']}, "
          f"ratio {rc['ratio_fully_cached_requests']}")
    if "plan_cache" in out:
        pc = out["plan_cache"]
        print(f"plan cache: planning tokens {pc['planning_tokens_first']} -> {pc['planning_tokens_second']} "
              f"(saved {pc['tokens_saved']}, {pc['token_count']}); plans from the cache {pc['plans_from_cache']}/"
              f"{pc['requests']}; LLM calls {pc['llm_calls_first']} -> {pc['llm_calls_second']}")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "cache_repeat.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {results / 'cache_repeat.json'}")
    same = all(r["same_cached_outputs"] for r in rc["per_request"])
    return 0 if same and out.get("plan_cache", {}).get("same_plans", True) else 1


if __name__ == "__main__":
    sys.exit(main())
