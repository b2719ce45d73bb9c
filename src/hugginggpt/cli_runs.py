"""Run history for the CLI: ``hugginggpt run`` and ``chat`` record their runs in the workspace's run database (the
file the server uses, so both appear together), and ``hugginggpt runs list|show|rm|gc`` reads and cleans it. Costs
come from ``costs.run_cost`` (shown while ``costs.prices`` has entries)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .config import HuggingGPTConfig
from .costs import Cost, run_cost
from .runstore import (
    AmbiguousRunId,
    Freed,
    RunStore,
    artifacts_dir,
    collect_garbage,
    failure_of,
    remove_run,
)
from .server.store import RUN_STATES, RunRecord

log = logging.getLogger(__name__)

runs_app = typer.Typer(help="Run history of this workspace (CLI and server runs): list, show, rm, gc.",
                       no_args_is_help=True)
console = Console()
err = Console(stderr=True)

WorkspaceOpt = Annotated[Path | None, typer.Option("--workspace", help="The workspace (default: settings).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a report.")]


# ----- recording runs of the CLI -----------------------------------------------------------------------------------
class Recording:
    """One run being recorded; ``done(result)`` stores its result (and gives it the record's id)."""

    def __init__(self, recorder: RunRecorder, run_id: str) -> None:
        self.recorder, self.run_id, self.finished = recorder, run_id, False

    def done(self, result: Any) -> Any:
        result.run_id = self.run_id
        self.finished = True
        data = result.model_dump(mode="json")
        self.recorder.write(lambda db: db.finish_run(self.run_id, result.status, data, failure_of(data)))
        if self.recorder.conversation_id:
            self.recorder.write(lambda db: db.add_message(self.recorder.conversation_id, "assistant", result.answer,
                                                          [], self.run_id))
        return result


class RunRecorder:
    """Writes the CLI's runs to the run database. Recording never fails a run: a database that cannot be written
    (read-only workspace, locked file) is reported once and the runs go on unrecorded."""

    def __init__(self, config: HuggingGPTConfig, source: str, conversation_id: str | None = None) -> None:
        self.config, self.source, self.conversation_id = config, source, conversation_id
        self._db: RunStore | None = None
        self._broken = False

    def write(self, action: Any) -> None:
        if self._broken:
            return
        try:
            if self._db is None:
                self._db = RunStore(self.config.run_database)
            action(self._db)
        except (OSError, sqlite3.Error) as exc:
            self._broken = True
            err.print(f"[yellow]run history off: cannot write {escape(str(self.config.run_database))} "
                      f"({escape(str(exc))})[/]")

    @contextmanager
    def run(self, request: str, files: Sequence[str | Path]) -> Iterator[Recording]:
        """Record a run as running for the block; the block calls ``done(result)``. A block left by an exception
        (Ctrl-C included) records the run as interrupted or failed."""
        run_id = uuid.uuid4().hex[:16]
        names = [str(f) for f in files]
        self.write(lambda db: db.create_run(RunRecord(
            id=run_id, status="queued", source=self.source, request=request, input={"history": [], "files": names},
            conversation_id=self.conversation_id, created_at=time.time())))
        if self.conversation_id:
            self.write(lambda db: db.add_message(self.conversation_id, "user", request, names, run_id))
        self.write(lambda db: db.mark_running(run_id))
        rec = Recording(self, run_id)
        try:
            yield rec
        except BaseException as exc:
            if not rec.finished:
                stopped = isinstance(exc, KeyboardInterrupt)
                error = {"type": "Interrupted" if stopped else type(exc).__name__,
                         "code": "interrupted" if stopped else getattr(exc, "code", "internal_error"),
                         "message": "Stopped from the keyboard." if stopped else str(exc)[:500]}
                self.write(lambda db: db.finish_run(run_id, "interrupted" if stopped else "failed", None, error))
            raise
        finally:
            self.close()  # reopened by the next run (a chat turn): no connection is held while the user types

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# ----- cost -----------------------------------------------------------------------------------------------------------
def cost_of(usage: dict[str, Any] | None, config: HuggingGPTConfig) -> Cost | None:
    return run_cost(usage, config.costs.prices)


def cost_line(usage: dict[str, Any] | None, config: HuggingGPTConfig) -> str | None:
    """``cost 0.000420 (model fake: 1,000 prompt + 200 completion tokens)``, or None while no prices are set."""
    cost = cost_of(usage, config)
    if cost is None:
        return None
    tokens = f"{cost.prompt_tokens:,} prompt + {cost.completion_tokens:,} completion tokens"
    if not cost.priced:
        return f"cost unknown: no price for model {cost.model or '?'} ({tokens})"
    return f"cost {cost.label()} (model {cost.model or '-'}: {tokens})"


def print_cost(out: Console, usage: dict[str, Any] | None, config: HuggingGPTConfig) -> None:
    line = cost_line(usage, config)
    if line:
        out.print(f"[dim]{escape(line)}[/]")


# ----- reading the history --------------------------------------------------------------------------------------------
def _settings(workspace: Path | None) -> HuggingGPTConfig:
    return HuggingGPTConfig().with_overrides(workspace=workspace)


def _open(config: HuggingGPTConfig) -> RunStore | None:
    path = config.run_database
    if not path.exists():
        console.print(f"[dim]No runs recorded yet ({escape(str(path))} does not exist).[/]")
        return None
    return RunStore(path)


def _when(ts: float | None, short: bool = False) -> str:
    return datetime.fromtimestamp(ts).strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S") if ts else "-"


def _seconds(rec: RunRecord) -> float | None:
    total = ((rec.result or {}).get("timings") or {}).get("total")
    if total is not None:
        return float(total)
    if rec.started_at and rec.finished_at:
        return rec.finished_at - rec.started_at
    return None


def _outputs(rec: RunRecord) -> list[dict[str, Any]]:
    return [a for r in (rec.result or {}).get("results") or [] for a in r.get("outputs") or []]


def summary(rec: RunRecord, config: HuggingGPTConfig) -> dict[str, Any]:
    """One run as a row of ``runs list --json``."""
    usage = (rec.result or {}).get("usage") or {}
    cost = cost_of(usage, config)
    return {"id": rec.id, "status": rec.status, "source": rec.source, "request": rec.request,
            "created_at": rec.created_at, "finished_at": rec.finished_at, "seconds": _seconds(rec),
            "tokens": int(usage.get("total_tokens") or 0), "artifacts": len(_outputs(rec)),
            "cost": cost.amount if cost else None}


_STYLE = {"succeeded": "green", "partial": "yellow", "failed": "red", "interrupted": "red", "running": "cyan",
          "queued": "dim"}


@runs_app.command("list")
def list_runs(limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Most recent N runs.")] = 20,
              status: Annotated[str | None, typer.Option("--status", help=f"Only runs in this state: "
                                                         f"{', '.join(RUN_STATES)}.")] = None,
              workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The most recent runs: status, start, seconds, tokens, output files (and cost when prices are set)."""
    if status is not None and status not in RUN_STATES:
        err.print(f"[red]--status must be one of {', '.join(RUN_STATES)}[/]")
        raise typer.Exit(2)
    config = _settings(workspace)
    db = _open(config)
    rows = [summary(r, config) for r in db.list_runs(limit=limit, status=status)] if db else []
    if as_json:
        print(json.dumps(rows))
        return
    if db is None:
        return
    priced = bool(config.costs.prices)
    table = Table(title=f"{len(rows)} run(s) in {config.run_database}", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    columns: tuple[tuple[str, JustifyMethod], ...] = (("id", "left"), ("status", "left"), ("source", "left"),
                                                      ("started", "left"), ("s", "right"), ("tokens", "right"),
                                                      ("files", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True,
                         min_width={"id": 16, "status": 9, "started": 11, "s": 5}.get(name, len(name)))
    if priced:
        table.add_column("cost", justify="right", no_wrap=True, min_width=8)
    table.add_column("request", overflow="ellipsis", no_wrap=True, min_width=12, max_width=60)
    for r in rows:
        cells = [r["id"], f"[{_STYLE.get(r['status'], 'white')}]{r['status']}[/]", r["source"],
                 _when(r["created_at"], short=True), f"{r['seconds']:.1f}" if r["seconds"] is not None else "-",
                 f"{r['tokens']:,}", str(r["artifacts"])]
        if priced:
            cells.append(f"{r['cost']:.6f}" if r["cost"] is not None else "-")
        table.add_row(*cells, Text(r["request"].replace("\n", " ")))
    console.print(table)


def _find(db: RunStore, run_id: str) -> RunRecord:
    try:
        rec = db.find(run_id)
    except AmbiguousRunId as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from exc
    if rec is None:
        err.print(f"[red]No run {escape(run_id)!s} in {escape(str(db.path))}[/]")
        raise typer.Exit(1)
    return rec


@runs_app.command("show")
def show_run(run_id: Annotated[str, typer.Argument(help="A run id, or the start of one.")],
             workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """One run: request, plan, tasks with status and outputs, answer, timings, tokens and cost."""
    config = _settings(workspace)
    db = _open(config)
    if db is None:
        raise typer.Exit(1)
    rec = _find(db, run_id)
    if as_json:
        cost = cost_of((rec.result or {}).get("usage"), config)
        print(json.dumps({**asdict(rec), "cost": cost.amount if cost else None}, default=str))
        return
    _show(rec, config)


def _show(rec: RunRecord, config: HuggingGPTConfig) -> None:
    result = rec.result or {}
    style = _STYLE.get(rec.status, "white")
    console.print(Panel(Text(rec.request), title=f"run {rec.id} · [{style}]{rec.status}[/] · {rec.source}",
                        subtitle=f"started {_when(rec.created_at)} · finished {_when(rec.finished_at)}"))
    plan = result.get("plan") or []
    if plan:
        table = Table("id", "task", "dep", "args", title=f"Plan ({result.get('planner') or '?'} planner)")
        for t in plan:
            table.add_row(str(t.get("id")), t.get("task", ""), Text(str(t.get("dep"))),
                          Text(json.dumps(t.get("args", {}), ensure_ascii=False)[:200]))
        console.print(table)
    _show_tasks(result.get("results") or [])
    if result:
        console.print(Panel(Text(result.get("answer") or "(no answer)"), title="Answer", border_style=style))
    if rec.error:
        console.print(f"[red]{escape(str(rec.error.get('type')))}[/]: {escape(str(rec.error.get('message')))}")
    timings = result.get("timings") or {}
    if timings:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if k != "total")
        console.print(f"time {timings.get('total', 0):.2f} s" + (f" ({stages})" if stages else ""))
    usage = result.get("usage") or {}
    by_stage = ", ".join(f"{k} {v.get('prompt_tokens', 0) + v.get('completion_tokens', 0):,}"
                         for k, v in (usage.get("by_stage") or {}).items())
    console.print(f"LLM calls {usage.get('calls', 0)}, tokens {usage.get('total_tokens', 0):,} (prompt "
                  f"{usage.get('prompt_tokens', 0):,}, completion {usage.get('completion_tokens', 0):,})"
                  + (f"; by stage: {by_stage}" if by_stage else ""))
    print_cost(console, usage, config)


def _show_tasks(results: list[dict[str, Any]]) -> None:
    if not results:
        return
    table = Table("id", "task", "model", "status", "outputs", "s", title="Tasks")
    table.columns[4].overflow = "fold"  # artifact paths in full
    for r in results:
        task, choice = r.get("task") or {}, r.get("choice") or {}
        if r.get("status") == "ok":
            outs = []
            for a in r.get("outputs") or []:
                if a.get("kind") == "text":
                    outs.append((a.get("text") or "")[:160])
                else:
                    present = "" if Path(a.get("path", "")).exists() else " (deleted)"
                    outs.append(f"{a.get('kind')}: {a.get('path')}{present}")
            out = "\n".join(outs)
        else:
            out = (r.get("error") or {}).get("message", "")
        seconds = r.get("seconds")
        table.add_row(str(task.get("id")), task.get("task", ""), choice.get("model_id") or "-",
                      f"[{_STYLE.get(r.get('status', ''), 'white')}]{r.get('status')}[/]"
                      if r.get("status") != "ok" else "[green]ok[/]", Text(out),
                      f"{seconds:.2f}" if seconds is not None else "")
    console.print(table)


def _freed(freed: Freed, kept: str) -> str:
    return (f"{freed.files} artifact file(s) deleted, {freed.bytes:,} bytes freed ({freed.bytes / 1e6:,.2f} MB)"
            + (f"; {freed.kept} {kept}" if freed.kept else ""))


@runs_app.command("rm")
def remove(run_id: Annotated[str, typer.Argument(help="A run id, or the start of one.")],
           workspace: WorkspaceOpt = None) -> None:
    """Delete a run's record and the artifacts no other run refers to."""
    config = _settings(workspace)
    db = _open(config)
    if db is None:
        raise typer.Exit(1)
    rec = _find(db, run_id)
    if not rec.finished:
        err.print(f"[red]Run {rec.id} is {rec.status}; remove it once it has finished.[/]")
        raise typer.Exit(1)
    freed = remove_run(db, artifacts_dir(config), rec.id)
    console.print(f"removed run {rec.id}: {_freed(freed, 'kept (still used by other runs)')}")


@runs_app.command("gc")
def gc(older_than: Annotated[float | None, typer.Option(
           "--older-than", min=0, help="Also delete finished runs created more than this many days ago.")] = None,
       workspace: WorkspaceOpt = None) -> None:
    """Free space: delete artifact files no run refers to (and, with --older-than, old runs first)."""
    config = _settings(workspace)
    db = _open(config)
    if db is None:
        raise typer.Exit(0)
    freed = collect_garbage(db, artifacts_dir(config), older_than)
    console.print(f"gc: removed {freed.runs} run record(s); {_freed(freed, 'in use kept')}")
