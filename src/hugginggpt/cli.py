"""The ``hugginggpt`` command line (Typer + Rich)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from typer.core import TyperCommand

from .cli_runs import runs_app  # run history (runs list|show|rm|gc)
from .config import HuggingGPTConfig
from .errors import HuggingGPTError, is_input_error
from .eval.cli import eval_app  # Typer only; the harness itself is imported when the command runs

app = typer.Typer(help="HuggingGPT: plan with an LLM, run expert models, answer from real outputs.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(eval_app, name="eval")
app.add_typer(runs_app, name="runs")
console = Console()
err = Console(stderr=True)

FileOpt = Annotated[list[Path] | None, typer.Option("--file", "-f", help="An input file (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a report.")]
PlannerOpt = Annotated[str | None, typer.Option("--planner", help="auto | offline | llm | hybrid")]
LLMUrlOpt = Annotated[str | None, typer.Option("--llm-url", help="OpenAI-compatible base URL (switches to it).")]
LLMModelOpt = Annotated[str | None, typer.Option("--llm-model", help="Model name at the endpoint.")]
GGUFOpt = Annotated[Path | None, typer.Option("--gguf", help="A GGUF file for the embedded LLM.")]
WorkspaceOpt = Annotated[Path | None, typer.Option("--workspace", help="Where artifacts are written.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the result and plan caches.")]
EngineOpt = Annotated[str | None, typer.Option(
    "--engine", help="Where experts run: threads (this process) | ray (one Ray actor per model; docs/scaling.md).")]
RayAddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", help="Ray cluster to join: auto | ray://host:10001 (implies --engine ray). Default: a local "
                          "Ray instance.")]


def _config(planner: str | None, llm_url: str | None, llm_model: str | None, gguf: Path | None,
            workspace: Path | None, verbose: bool, no_cache: bool = False, engine: str | None = None,
            ray_address: str | None = None) -> HuggingGPTConfig:
    """Settings from hugginggpt.yaml / the environment, overridden by the command-line flags; logging set up."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    llm: dict[str, Any] = {}
    if llm_url:
        llm.update(backend="openai", base_url=llm_url, model=llm_model)
    if gguf:
        llm.update(backend="embedded", gguf_path=gguf)
    config = HuggingGPTConfig()
    return config.with_overrides(planner=planner, workspace=workspace, llm=llm or None,
                                 cache=False if no_cache else None,
                                 execution=_execution(config, engine, ray_address))


def _execution(config: HuggingGPTConfig, engine: str | None, ray_address: str | None) -> dict[str, Any] | None:
    """The execution section with --engine / --ray-address applied (None: no flag given)."""
    if engine is None and ray_address is None:
        return None
    engine = engine or "ray"
    if engine not in ("threads", "ray"):
        raise typer.BadParameter(f"{engine!r} is not an engine; use threads or ray.", param_hint="--engine")
    return {**config.execution.model_dump(), "engine": engine,
            **({"ray_address": ray_address} if ray_address else {})}


def _agent(planner: str | None = None, llm_url: str | None = None, llm_model: str | None = None,
           gguf: Path | None = None, workspace: Path | None = None, verbose: bool = False, no_cache: bool = False,
           engine: str | None = None, ray_address: str | None = None):
    from .agent import HuggingGPT

    config = _config(planner, llm_url, llm_model, gguf, workspace, verbose, no_cache, engine, ray_address)
    if not config.allowed_dirs:
        config = config.with_overrides(allowed_dirs=[Path.cwd()])
    return HuggingGPT(config, base_dir=Path.cwd())


def _text(request: str) -> str:
    """A request as typed: bytes that are not UTF-8 (Python keeps them as lone surrogates) become U+FFFD, as in
    a request body, before the request is recorded or shown."""
    from .planning.limits import clean_text

    return clean_text(request)


def _fail(exc: HuggingGPTError, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": exc.to_dict()}))
    else:
        err.print(f"[bold red]{type(exc).__name__}[/]: {escape(exc.message)}"
                  + (f"\n[dim]{escape(exc.hint)}[/]" if exc.hint else ""))
    raise typer.Exit(2)


class _RequestCommand(TyperCommand):
    """A command whose request may start with "-" (a bullet list: "- caption a.jpg - then read it aloud"). Such a
    word holds a space, which no option does; it is moved behind "--", so the parser reads it whole as the request
    instead of as short options ("-f" would take the rest as a file name)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        end = args.index("--") if "--" in args else len(args)
        dashed = next((i for i, a in enumerate(args[:end]) if a.startswith("-") and any(c.isspace() for c in a)),
                      None)
        if dashed is not None:
            args = [*args[:dashed], *args[dashed + 1 :], *([] if "--" in args else ["--"]), args[dashed]]
        return super().parse_args(ctx, args)


@app.command(cls=_RequestCommand)
def run(request: str, file: FileOpt = None, as_json: JsonOpt = False, planner: PlannerOpt = None,
        llm_url: LLMUrlOpt = None, llm_model: LLMModelOpt = None, gguf: GGUFOpt = None,
        workspace: WorkspaceOpt = None, verbose: VerboseOpt = False, no_cache: NoCacheOpt = False,
        engine: EngineOpt = None, ray_address: RayAddressOpt = None) -> None:
    """Run a request end to end: plan, select models, execute, answer."""
    from .cli_progress import run_progress
    from .cli_runs import RunRecorder, print_cost
    from .observability.tracing import setup_tracing
    from .render import ProgressView, render_result

    request = _text(request)
    try:
        agent = _agent(planner, llm_url, llm_model, gguf, workspace, verbose, no_cache, engine, ray_address)
        setup_tracing(agent.config.tracing)  # the tracing section or OTEL_* variables (docs/observability.md)
        with RunRecorder(agent.config, "cli").run(request, file or []) as rec:  # recorded in the run history
            if as_json:
                result = rec.done(agent.run(request, files=file or [], run_id=rec.run_id))
            else:
                with ProgressView(console) as view, run_progress(view, console):
                    result = rec.done(agent.run(request, files=file or [], on_event=view.on_event, run_id=rec.run_id))
    except HuggingGPTError as exc:
        _fail(exc, as_json)
        return
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        render_result(console, result)
        print_cost(console, result.usage, agent.config)  # while costs.prices has entries
        if result.error is not None:
            e = result.error
            err.print(f"[bold red]{e.type}[/]: {escape(e.message)}" + (f"\n[dim]{escape(e.hint)}[/]" if e.hint else ""))
    # The run's honest status: 0 succeeded, 1 failed (a run error, or no task succeeded), 3 partial (some tasks
    # failed or were skipped; the others' outputs are there). 2 is for bad input refused before the run: by _fail,
    # or by the agent's checks (an empty request, a path outside the allowed places, an unusable --file).
    refused = result.error is not None and is_input_error(result.error.code, result.error.type)
    raise typer.Exit(2 if refused else {"succeeded": 0, "failed": 1, "partial": 3}[result.status])


@app.command(cls=_RequestCommand)
def plan(request: str, file: FileOpt = None, as_json: JsonOpt = False, planner: PlannerOpt = None,
         llm_url: LLMUrlOpt = None, llm_model: LLMModelOpt = None) -> None:
    """Stage 1 only: print the plan as a JSON list of {task, id, dep, args}, and the planner's notes (on stderr)."""
    from .agent import plan_outcome
    from .render import render_plan_notes

    try:
        agent = _agent(planner, llm_url, llm_model)
        outcome = plan_outcome(agent, _text(request), file or [])
    except HuggingGPTError as exc:
        _fail(exc, as_json)
        return
    result = outcome.plan
    render_plan_notes(err, outcome.notes)  # on stderr, so the JSON on stdout stays JARVIS's plan list
    if as_json:
        print(json.dumps(result.to_jarvis()))
        return
    table = Table("id", "task", "dep", "args", title="Plan")
    for t in result.tasks:
        table.add_row(str(t.id), t.task, str(t.dep), json.dumps(t.args, ensure_ascii=False))
    console.print(table if result.tasks else "[dim]Empty plan: chit-chat, the LLM answers directly.[/]")


@app.command()
def chat(file: FileOpt = None, planner: PlannerOpt = None, llm_url: LLMUrlOpt = None,
         llm_model: LLMModelOpt = None, workspace: WorkspaceOpt = None, no_cache: NoCacheOpt = False,
         engine: EngineOpt = None, ray_address: RayAddressOpt = None) -> None:
    """Interactive multi-turn chat; outputs of earlier turns can be referred to ("read it aloud")."""
    import uuid

    from .cli_progress import run_progress
    from .cli_runs import RunRecorder
    from .render import ProgressView, render_result

    agent = _agent(planner, llm_url, llm_model, None, workspace, no_cache=no_cache, engine=engine,
                   ray_address=ray_address)
    history: list[dict[str, Any]] = []
    files = list(file or [])
    console.print("[bold]hugginggpt chat[/] - empty line or Ctrl-D to quit.")
    recorder = RunRecorder(agent.config, "cli-chat", conversation_id=uuid.uuid4().hex[:16])  # one conversation
    while True:
        try:
            line = _text(console.input("[bold cyan]you> [/]")).strip()
        except EOFError:
            break
        if not line:
            break
        history.append({"role": "user", "content": line, "files": [str(f) for f in files]})
        try:
            with recorder.run(line, files) as rec, ProgressView(console) as view, run_progress(view, console):
                result = rec.done(agent.run(line, files=files, history=history[:-1], on_event=view.on_event,
                                            run_id=rec.run_id))
        except HuggingGPTError as exc:
            err.print(f"[red]{type(exc).__name__}[/]: {escape(str(exc))}")
            history.pop()
            continue
        files = []
        render_result(console, result, brief=True)
        history.append({"role": "assistant", "content": result.answer})


@app.command()
def tasks(as_json: JsonOpt = False) -> None:
    """List the tasks the planner knows, with their typed inputs and outputs."""
    from .tasks import default_registry

    reg = default_registry()
    if as_json:
        print(json.dumps([t.model_dump() for t in reg]))
        return
    table = Table("task", "inputs", "outputs", "LLM can do it", title=f"{len(reg)} tasks")
    for t in reg:
        table.add_row(t.name, ", ".join(f"{s.name}:{s.type}{'' if s.required else '?'}" for s in t.inputs),
                      ", ".join(t.outputs), "yes" if t.llm else "")
    console.print(table)


models_app = typer.Typer(help="List catalog models; `sync` and `pull` reach the Hugging Face hub.")
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context, task: Annotated[str | None, typer.Option("--task", help="Only this task.")] = None,
           as_json: JsonOpt = False, available: Annotated[bool, typer.Option("--available")] = False) -> None:
    """List catalog models (embedded experts first), with availability here."""
    if ctx.invoked_subcommand is not None:
        return
    agent = _agent()
    from .catalog.selector import Selector

    selector = Selector(agent.catalog, agent.backends(), top_k=1000)
    rows = []
    for card in agent.catalog.cards:
        if task and card.task != task:
            continue
        verdicts = [(b.name, *b.can_serve(card)) for b in selector.backends]
        ok = next(((n, r) for n, a, r in verdicts if a), None)
        if available and not ok:
            continue
        rows.append({"id": card.id, "task": card.task, "source": card.source, "likes": card.likes,
                     "downloads": card.downloads, "license": card.license, "available": bool(ok),
                     "backend": ok[0] if ok else None, "description": card.description})
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} models")
    table.add_column("model", no_wrap=True)
    table.add_column("task", no_wrap=True)
    table.add_column("source")
    table.add_column("likes", justify="right")
    table.add_column("license", overflow="ellipsis", no_wrap=True, max_width=28)
    table.add_column("available", no_wrap=True)
    for r in rows:
        table.add_row(r["id"], r["task"], r["source"], str(r["likes"]), (r["license"] or "").split(" (")[0],
                      f"[green]{r['backend']}[/]" if r["available"] else "[dim]no[/]")
    console.print(table)


@models_app.command("sync")
def models_sync(task: Annotated[list[str] | None, typer.Option("--task", help="Only these tasks.")] = None,
                per_task: Annotated[int, typer.Option("--per-task")] = 30) -> None:
    """Refresh downloads/likes/tags of the catalog's tasks from the hub (needs network)."""
    from .catalog.sync import sync

    try:
        out = sync(HuggingGPTConfig(), tasks=task, per_task=per_task)
    except HuggingGPTError as exc:
        _fail(exc, False)
        return
    console.print(f"catalog synced: {out}")


@models_app.command("pull")
def models_pull(model_id: str, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False) -> None:
    """Download a model into the Hugging Face cache (size shown first), for the transformers backend."""
    from .catalog.sync import plan_pull, pull
    from .cli_progress import download_progress

    config = HuggingGPTConfig()
    try:
        plan = plan_pull(model_id, token=config.hub.hf_token)
        console.print(f"{model_id}: {len(plan.files)} files, {plan.total_bytes / 1e6:,.1f} MB")
        with download_progress(console) as bars:  # Rich bars (files, bytes) on a terminal
            path = pull(plan, token=config.hub.hf_token, cache_dir=config.hub.hf_cache_dir, tqdm_class=bars,
                        confirm=lambda p: yes or typer.confirm("Download?", default=False))
    except HuggingGPTError as exc:
        _fail(exc, False)
        return
    console.print(f"downloaded to {path}" if path else "[dim]not downloaded[/]")


@app.command("models-server")
def models_server(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
                  port: Annotated[int, typer.Option(help="Port.")] = 8005,
                  model: Annotated[list[str] | None, typer.Option(
                      "--model", "-m", help="Catalog id, or task=/path/to/model_dir (repeatable).")] = None,
                  task: Annotated[list[str] | None, typer.Option("--task", help="Host all models of a task.")] = None,
                  preload: Annotated[bool, typer.Option(help="Load every model before serving.")] = False,
                  ray_serve: Annotated[bool, typer.Option(
                      "--ray-serve", help="Deploy on Ray Serve: model multiplexing, replicas, autoscaling.")] = False,
                  serve_config: Annotated[Path | None, typer.Option(
                      "--serve-config", help="YAML with a ray_serve: section (default: that of hugginggpt.yaml; "
                                             "docs/scaling.md).")] = None,
                  verbose: VerboseOpt = False) -> None:
    """Serve local experts behind JARVIS's model-server API (for the `http` backend of another machine)."""
    from .server.models_server import serve

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if ray_serve or serve_config:
            from .server.serve_app import load_serve_settings, serve_forever

            serve_forever(HuggingGPTConfig(), load_serve_settings(serve_config), host=host, port=port,
                          model_ids=model, tasks=task)
            return
        serve(HuggingGPTConfig(), host=host, port=port, model_ids=model, tasks=task, preload=preload)
    except HuggingGPTError as exc:
        _fail(exc, False)


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Show the LLM, backends and the models available per task."""
    from .doctor import diagnose

    report = diagnose(_agent())
    if as_json:
        print(json.dumps(report, default=str))
        return
    console.print(Panel(json.dumps(report["llm"], indent=1, default=str), title="controller LLM"))
    bt = Table("backend", "available", "reason", title="backends")
    for name, b in report["backends"].items():
        bt.add_row(name, "[green]yes[/]" if b["available"] else "[red]no[/]", b["reason"])
    console.print(bt)
    tt = Table("task", "available models", title="tasks")
    for name, ids in report["tasks"].items():
        tt.add_row(name, ", ".join(ids) if ids else "[dim]none offline[/]")
    console.print(tt)


HostOpt = Annotated[str | None, typer.Option("--host", help="Interface (default: server.host, 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port (default: server.port, 8004).")]


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None, planner: PlannerOpt = None, llm_url: LLMUrlOpt = None,
          llm_model: LLMModelOpt = None, gguf: GGUFOpt = None, workspace: WorkspaceOpt = None,
          verbose: VerboseOpt = False, no_cache: NoCacheOpt = False, engine: EngineOpt = None,
          ray_address: RayAddressOpt = None) -> None:
    """Serve the HTTP API (JARVIS- and OpenAI-compatible, runs, uploads) and the web UI at /ui (docs/server.md)."""
    from .server.app import serve as run_server

    run_server(_config(planner, llm_url, llm_model, gguf, workspace, verbose, no_cache, engine, ray_address),
               host=host, port=port)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
