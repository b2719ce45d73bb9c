"""Controller-LLM tokens per request: JARVIS's design against ours (offline, hybrid, llm planner modes).

Usage: python benchmarks/controller_tokens.py [--data-dir DIR] [--limit 50]
DIR holds TaskBench's files (default: $HUGGINGGPT_TASKBENCH_DIR, else ../shared/taskbench next to the repository);
only huggingface_dev.jsonl is read. No LLM answers anything: every prompt is built, and every completion estimated,
then counted with the SmolLM2-135M-Instruct GGUF's tokenizer (llama.cpp through xllamacpp: its chat template, then
its tokenizer). The ``llm`` rows show the LLM planner's prompt with its task shortlist (the default), ``llm-all``
with every task (no shortlist). Prints mean/median tokens per request for each design and writes
benchmarks/results/controller_tokens.json. Method and caveats: docs/tokens.md.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from _common import taskbench_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hugginggpt.backends.llm import LLMBackend  # noqa: E402
from hugginggpt.catalog.cards import Catalog, ModelCard, hub_cards  # noqa: E402
from hugginggpt.catalog.selector import MODEL_CHOICES, Selector  # noqa: E402
from hugginggpt.errors import PlanError  # noqa: E402
from hugginggpt.eval.data import Sample, load_samples  # noqa: E402
from hugginggpt.eval.tools import ToolList, load_tools, to_media  # noqa: E402
from hugginggpt.llm.base import ChatResult  # noqa: E402
from hugginggpt.llm.embedded import default_gguf_path  # noqa: E402
from hugginggpt.media import media_of_name  # noqa: E402
from hugginggpt.plan_schema import Plan  # noqa: E402
from hugginggpt.planning.base import PlanContext  # noqa: E402
from hugginggpt.planning.hybrid_planner import KEEP, HybridPlanner  # noqa: E402
from hugginggpt.planning.llm_planner import LLMPlanner, plan_json  # noqa: E402
from hugginggpt.planning.offline_planner import OfflinePlanner  # noqa: E402
from hugginggpt.planning.validate import repair_plan  # noqa: E402
from hugginggpt.respond_prompt import build_response_messages  # noqa: E402
from hugginggpt.results import ModelChoice  # noqa: E402
from hugginggpt.tasks import default_registry  # noqa: E402

REG = default_registry()
JARVIS = yaml.safe_load((ROOT / "benchmarks" / "jarvis_design_prompts.yaml").read_text(encoding="utf-8"))
ANSWER_TOKENS = 60  # the final answer's length, the same for every design
# One model choice's reason, the same for every design (JARVIS asks for "detailed reasons", ours for one sentence).
REASON = "It is the most liked and downloaded model for this task and fits the request's language and content."
# Stand-ins for the experts' outputs, the same for every design.
TEXT_OUT = "A short model output of about twenty words standing in for what the expert really returned for this task."
FILE_OUT = {"image": "public/images/5f3a91.png", "audio": "public/audios/5f3a91.wav",
            "video": "public/videos/5f3a91.mp4"}
CHIT_CHAT_SYSTEM = "You are HuggingGPT, a helpful assistant. Answer briefly."  # agent.HuggingGPT._chit_chat's prompt


class Tokenizer:
    """The SmolLM2 GGUF's chat template and tokenizer, through the llama.cpp server inside xllamacpp (no decoding)."""

    def __init__(self) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(default_gguf_path())
        params.n_ctx = 512  # nothing is evaluated; the context only has to exist
        params.n_parallel = 1
        params.cpuparams.n_threads = 1
        params.verbosity = -1
        self._key = secrets.token_urlsafe(16)
        params.api_keys = [self._key]
        self._server = xllamacpp.Server(params)  # kept alive: it serves the loopback endpoint below
        self._url = self._server.listening_address.rstrip("/")

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(self._url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self._key}"})
        with urllib.request.urlopen(req, timeout=60) as resp:  # the llama.cpp server on loopback
            return json.loads(resp.read())

    def text(self, text: str) -> int:
        return len(self._post("/tokenize", {"content": text, "add_special": False})["tokens"])

    def messages(self, messages: list[dict[str, str]]) -> int:
        """Tokens of a chat prompt as the model sees it: the template applied, with the assistant turn opened."""
        prompt = self._post("/apply-template", {"messages": messages})["prompt"]
        return len(self._post("/tokenize", {"content": prompt, "add_special": True, "parse_special": True})["tokens"])


class Recorder:
    """Stands in for a capable controller LLM: records the prompts it is given and returns an estimated completion
    (``answer(schema)``). It answers nothing itself."""

    name = "recorder"
    capable = True

    def __init__(self) -> None:
        self.calls: list[tuple[list[dict[str, str]], str]] = []

    def chat(self, messages: list[dict[str, str]], *, json_schema: dict[str, Any] | None = None,
             max_tokens: int = 512, temperature: float = 0.0, stage: str = "other") -> ChatResult:
        text = self.answer(json_schema or {})
        self.calls.append((messages, text))
        return ChatResult(text=text)

    @staticmethod
    def answer(schema: dict[str, Any]) -> str:
        """The first allowed model per task for a choice; "keep" for a hybrid review (no text rewritten)."""
        out: dict[str, Any] = {}
        for key, prop in schema.get("properties", {}).items():
            fields = prop.get("properties", {})
            if "keep" in fields:
                out[key] = {"keep": KEEP}
            elif "id" in fields:
                out[key] = {"id": fields["id"]["enum"][0], "reason": REASON}
        return json.dumps(out)

    def describe(self) -> dict[str, Any]:
        return {"backend": "recorder"}


# -- the gold plan of a sample ----------------------------------------------------------------------------------


def gold_jarvis(sample: Sample, tools: ToolList) -> list[dict[str, Any]]:
    """The gold plan as JARVIS writes one: our task names, args keyed by media type, ``<GENERATED>-j``."""
    out = []
    for j, node in enumerate(sample.nodes):
        args: dict[str, str] = {}
        deps = []
        for value in node.arguments:
            value = str(value)
            if value.startswith("<node-") and value.endswith(">") and value[6:-1].isdigit():
                k = int(value[6:-1])
                media = to_media(tools.output_type_of(sample.nodes[k].task)) if k < len(sample.nodes) else "text"
                value, deps = f"<GENERATED>-{k}", [*deps, k]
            else:
                media = media_of_name(value) or "text"
            key, n = media, 2
            while key in args:  # JARVIS allows one key per media type; a second text becomes text2
                key, n = f"{media}{n}", n + 1
            args[key] = value
        out.append({"task": REG.canonical(node.task) or node.task, "id": j, "dep": deps or [-1], "args": args})
    return out


# -- candidates -------------------------------------------------------------------------------------------------


def jarvis_candidates(task: str) -> list[dict[str, Any]]:
    """What JARVIS shows for a task: 5 hub models by downloads, with id, endpoint, likes, 100 characters of
    description (our one-line description, else a line built from the tags, languages and datasets) and tags."""
    cards = sorted((c for c in hub_cards() if c.task == task), key=lambda c: -c.downloads)[:5]
    return [{"id": c.id, "inference endpoint": "huggingface", "likes": c.likes,
             "description": _description(c)[:100], "tags": c.tags} for c in cards]


def _description(card: ModelCard) -> str:
    if card.description:
        return card.description
    parts = [f"{'An' if card.task[0] in 'aeiou' else 'A'} {card.task} model"]
    if card.tags:
        parts.append("for " + ", ".join(card.tags))
    if card.languages:
        parts.append("in " + ", ".join(card.languages))
    if card.datasets:
        parts.append("trained on " + ", ".join(card.datasets))
    return " ".join(parts) + "."


class Servable:
    """A backend for the real ``Selector`` that serves every card (``inference_mode: huggingface``, the setting
    comparable to JARVIS's), or with ``local`` only the embedded experts and the controller LLM (``inference_mode:
    local`` with no hub model cached)."""

    name = "servable"

    def __init__(self, local: bool) -> None:
        self.local = local

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        return (not self.local or card.source != "hub"), "counted as servable"


# -- results (the same stand-ins for every design) ---------------------------------------------------------------


def _output(task: str) -> dict[str, str]:
    media = REG.get(task).outputs[-1] if task in REG else "text"
    return {"type": "text", "text": TEXT_OUT} if media == "text" else {"type": media, "file": FILE_OUT[media]}


# -- the designs --------------------------------------------------------------------------------------------------


# The text tasks JARVIS hands to its LLM without a model-choice call (it calls the LLM to do them instead).
JARVIS_LLM_TASKS = ("summarization", "translation", "conversational", "text-generation", "text2text-generation")


def jarvis_tokens(tok: Tokenizer, request: str, plan: list[dict[str, Any]], *,
                  text_tasks_choose: bool = True) -> dict[str, int]:
    """Planning call + one choice call per task with candidates + the response call. With ``text_tasks_choose``
    off, JARVIS's five LLM text tasks get no choice call, as in its code (their execution call is not counted)."""
    from hugginggpt.prompts import render

    counts = {"plan": 0, "select": 0, "respond": 0, "calls": 0}
    messages = [{"role": "system", "content": JARVIS["plan_system"]}]
    for demo in JARVIS["plan_demos"]:
        messages += [{"role": "user", "content": demo["user"]}, {"role": "assistant", "content": demo["assistant"]}]
    messages.append({"role": "user", "content": render(JARVIS["plan_user"], context="[]", request=request)})
    counts["plan"] = tok.messages(messages) + tok.text(json.dumps(plan))
    counts["calls"] += 1
    processes: dict[int, Any] = {}
    for task in plan:
        cands = jarvis_candidates(task["task"])
        choice = {"id": cands[0]["id"] if cands else "", "reason": REASON}
        if len(cands) > 1 and (text_tasks_choose or task["task"] not in JARVIS_LLM_TASKS):  # only with a choice
            metas = json.dumps(cands)
            messages = [{"role": "system", "content": JARVIS["select_system"]},
                        {"role": "user", "content": request}, {"role": "assistant", "content": json.dumps(task)},
                        {"role": "user", "content": render(JARVIS["select_user"], metas=metas,
                                                           task=json.dumps(task))}]
            counts["select"] += tok.messages(messages) + tok.text(json.dumps(choice))
            counts["calls"] += 1
        out = _output(task["task"])
        processes[task["id"]] = {"task": task, "inference result": {"generated " + out["type"]: out.get("text") or
                                                                    out.get("file")}, "choose model result": choice}
    messages = [{"role": "system", "content": JARVIS["respond_system"]}, {"role": "user", "content": request},
                {"role": "assistant", "content": render(JARVIS["respond_demo_assistant"],
                                                        processes=json.dumps(processes))},
                {"role": "user", "content": JARVIS["respond_user"]}]
    counts["respond"] = tok.messages(messages) + ANSWER_TOKENS
    counts["calls"] += 1
    return counts


def ours_after_plan(tok: Tokenizer, catalog: Catalog, request: str, plan: Plan, counts: dict[str, int],
                    local: bool, top_k: int, choice: str) -> None:
    """Our stages 2 and 4 with a capable LLM: the real ``Selector`` (one model-choice call for the tasks it asks
    the LLM about, per ``choice``), one answer call; for an empty plan, the one chit-chat call instead."""
    if not plan.tasks:
        messages = [{"role": "system", "content": CHIT_CHAT_SYSTEM}, {"role": "user", "content": request}]
        counts["respond"] = tok.messages(messages) + ANSWER_TOKENS
        counts["calls"] += 1
        counts["empty_plan"] = 1
        return
    rec = Recorder()
    picked = Selector(catalog, [Servable(local)], llm=rec, top_k=top_k, choice=choice).select(plan, request)
    for messages, text in rec.calls:
        counts["select"] += tok.messages(messages) + tok.text(text)
        counts["calls"] += 1
    digest = [{"id": t.id, "task": t.task, "status": "ok", "outputs": [_output(t.task)],
               "model": c.model_id if isinstance(c := picked.get(t.id), ModelChoice) else ""} for t in plan.tasks]
    counts["respond"] = tok.messages(build_response_messages(request, plan, digest)) + ANSWER_TOKENS
    counts["calls"] += 1


def ours_tokens(tok: Tokenizer, catalog: Catalog, mode: str, request: str, gold: list[dict[str, Any]],
                offline: OfflinePlanner, top_k: int, demos_k: int = 2, choice: str = "local_first") -> dict[str, int]:
    counts = {"plan": 0, "select": 0, "respond": 0, "calls": 0, "plan_error": 0, "empty_plan": 0}
    context = PlanContext(registry=REG)
    local = mode.endswith("-local")
    mode = mode.removesuffix("-local")
    if mode == "offline":
        return counts  # rule-based plan, model by rank, deterministic answer: no LLM call
    if mode == "hybrid":
        rec = Recorder()
        try:
            outcome = HybridPlanner(rec, REG, offline=offline).plan(request, context)
        except PlanError:
            counts["plan_error"] = 1  # the run stops before any LLM call
            return counts
        for messages, text in rec.calls:
            counts["plan"] += tok.messages(messages) + tok.text(text)
            counts["calls"] += 1
        plan = outcome.plan
    else:  # llm: the real planning prompt; the completion estimated as the gold plan in our schema
        plan, _ = repair_plan(gold, REG)
        planner = LLMPlanner(Recorder(), REG, shortlist=mode != "llm-all", demos_k=demos_k)
        shown = planner.shown_tasks(request, context)
        messages = planner.build_messages(request, context, shown)
        counts["plan"] = tok.messages(messages) + tok.text(plan_json(plan.to_jarvis()))
        counts["calls"] += 1
        counts["shown_tasks"] = len(shown) if shown is not None else len(REG)
        # Gold tasks of the registry that the prompt shows (a TaskBench tool we have no task for is in no prompt).
        counts["gold_shown"] = sum(t.task in (shown or REG.names) for t in plan.tasks if t.task in REG)
        counts["gold_tasks"] = sum(t.task in REG for t in plan.tasks)
    ours_after_plan(tok, catalog, request, plan, counts, local, top_k, choice)
    return counts


def mean_total(rows: list[dict[str, int]]) -> float:
    """Mean tokens per request over all stages."""
    return statistics.fmean(r["plan"] + r["select"] + r["respond"] for r in rows)


def summarize(rows: list[dict[str, int]], jarvis_mean: float, text_llm_mean: float) -> dict[str, Any]:
    """Stats of one design; its ratios to JARVIS as usually described and to JARVIS as coded (``text_llm_mean``)."""
    totals = [r["plan"] + r["select"] + r["respond"] for r in rows]
    mean = statistics.fmean(totals)
    return {"mean": round(mean, 1), "median": statistics.median(totals), "min": min(totals), "max": max(totals),
            "calls_mean": round(statistics.fmean(r["calls"] for r in rows), 2),
            "by_stage_mean": {s: round(statistics.fmean(r[s] for r in rows), 1) for s in ("plan", "select", "respond")},
            "ratio_to_jarvis": round(mean / jarvis_mean, 3),
            "ratio_to_jarvis_text_llm": round(mean / text_llm_mean, 3),
            "plan_errors": sum(r.get("plan_error", 0) for r in rows),
            "empty_plans": sum(r.get("empty_plan", 0) for r in rows),
            **({"shown_tasks_mean": round(statistics.fmean(r["shown_tasks"] for r in rows), 2),
                "gold_tasks_shown": round(sum(r["gold_shown"] for r in rows) / max(1, sum(r["gold_tasks"]
                                                                                         for r in rows)), 3)}
               if rows and "shown_tasks" in rows[0] else {})}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=taskbench_dir())
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--top-k", type=int, default=5, help="our selector_top_k (JARVIS always shows 5)")
    ap.add_argument("--model-choice", choices=MODEL_CHOICES, default="local_first",
                    help="when our LLM chooses a model (the model_choice setting; its default: local_first)")
    ap.add_argument("--demos-k", type=int, default=2, help="demos in the llm planner's prompt (its default: 2)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "controller_tokens.json")
    args = ap.parse_args()
    data = args.data_dir / "huggingface_dev.jsonl"
    if not data.exists():
        print(f"TaskBench data not found in {args.data_dir}; set HUGGINGGPT_TASKBENCH_DIR. Skipped.")
        return 0
    tools = load_tools(args.data_dir / "data_huggingface" / "tool_desc.json", "huggingface")
    samples, _ = load_samples(data, tools, limit=args.limit)
    tok = Tokenizer()
    catalog = Catalog.default(extra=LLMBackend(Recorder()).cards())
    offline = OfflinePlanner(REG)
    modes = ("offline", "hybrid", "llm", "llm-all", "hybrid-local", "llm-local")
    per: dict[str, list[dict[str, int]]] = {"jarvis": [], "jarvis-text-llm": [], **{m: [] for m in modes}}
    for sample in samples:
        gold = gold_jarvis(sample, tools)
        per["jarvis"].append(jarvis_tokens(tok, sample.instruction, gold))
        per["jarvis-text-llm"].append(jarvis_tokens(tok, sample.instruction, gold, text_tasks_choose=False))
        for mode in modes:
            per[mode].append(ours_tokens(tok, catalog, mode, sample.instruction, gold, offline, args.top_k,
                                           args.demos_k, args.model_choice))
    # every design against JARVIS as usually described and as its code runs the five LLM text tasks
    jarvis_mean, text_llm_mean = mean_total(per["jarvis"]), mean_total(per["jarvis-text-llm"])
    summary = {name: summarize(rows, jarvis_mean, text_llm_mean) for name, rows in per.items()}
    print(f"Controller LLM tokens per request, first {len(samples)} requests of huggingface_dev.jsonl "
          f"(SmolLM2 GGUF tokenizer; our selector_top_k={args.top_k}, "
          f"demos_k={args.demos_k}, model_choice={args.model_choice})")
    print(f"{'design':<16} {'calls':>5} {'mean':>8} {'median':>8} {'plan':>7} {'select':>7} {'respond':>8} "
          f"{'ours/JARVIS':>11} {'(text-llm)':>10}")
    for name, s in summary.items():
        st = s["by_stage_mean"]
        print(f"{name:<16} {s['calls_mean']:>5} {s['mean']:>8} {s['median']:>8} {st['plan']:>7} {st['select']:>7} "
              f"{st['respond']:>8} {s['ratio_to_jarvis']:>11} {s['ratio_to_jarvis_text_llm']:>10}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "data": "huggingface_dev.jsonl", "requests": len(samples),
        "tokenizer": "SmolLM2-135M-Instruct GGUF (llama.cpp via xllamacpp: chat template + tokenizer)",
        "answer_tokens": ANSWER_TOKENS, "selector_top_k": args.top_k, "demos_k": args.demos_k,
        "model_choice": args.model_choice, "summary": summary,
        "per_request": [{"id": s.id, "type": s.type, "tasks_gold": len(s.nodes),
                         **{name: rows[i] for name, rows in per.items()}} for i, s in enumerate(samples)],
    }, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
