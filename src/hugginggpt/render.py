"""Rich rendering for the CLI: live stage/task progress and the final report."""

from __future__ import annotations

import json
import threading
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .respond import is_dropped_note
from .results import Event, RunResult, TaskResult

_STAGES = ("plan", "select", "execute", "respond")
_ICON = {"pending": "[dim]·[/]", "running": "[yellow]…[/]", "done": "[green]✓[/]", "ok": "[green]✓[/]",
         "failed": "[red]✗[/]", "skipped": "[dim]↷[/]"}


class ProgressView:
    """A live table of the four stages and of each task's state, fed by ``on_event``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stages = {s: "pending" for s in _STAGES}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.steps: dict[str, Spinner] = {}  # long steps in progress (kind "progress"), by key
        self._steps_lock = threading.Lock()  # progress comes from worker threads
        self._live = Live(self._render(), console=console, refresh_per_second=8, transient=True)

    def __enter__(self) -> ProgressView:
        if self.console.is_terminal:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.console.is_terminal:
            self._live.__exit__(None, None, None)

    def on_event(self, event: Event) -> None:
        if event.kind == "stage" and event.stage in self.stages:
            self.stages[event.stage] = event.status
            if event.stage == "plan" and event.status == "done":
                for t in event.data.get("plan", []):
                    self.tasks[t["id"]] = {"task": t["task"], "status": "pending", "info": ""}
            if event.stage == "select" and event.status == "done":
                for tid, c in event.data.get("choices", {}).items():
                    row = self.tasks.setdefault(int(tid), {"task": c.get("task", ""), "status": "pending"})
                    row["info"] = c.get("model_id") or c.get("message", "")
        elif event.kind == "progress":
            self._step(event)
        elif event.kind == "task" and event.task_id is not None:
            row = self.tasks.setdefault(event.task_id, {"task": event.task or "", "info": ""})
            row["status"] = event.status
            if event.message:
                row["info"] = event.message
            elif event.data.get("cache") == "hit":
                row["info"] = f"{row.get('info', '')} (cached)".strip()
        if not self.console.is_terminal:
            if event.kind == "stage":
                self.console.print(f"[dim]{event.stage}: {event.status}[/]")
            elif event.kind == "task":
                self.console.print(f"[dim]  task {event.task_id} {event.task}: {event.status}[/]"
                                   + (f" [dim]- {escape(event.message)}[/]" if event.message else ""))
        self._live.update(self._render())

    def _step(self, event: Event) -> None:
        key = str(event.data.get("key") or event.message)
        with self._steps_lock:
            if event.status != "running":
                self.steps.pop(key, None)
                return
            done, total = event.data.get("done"), event.data.get("total")
            text = Text(event.message + (f" {done}/{total}" if done is not None and total else "") + " …")
            if key in self.steps:
                self.steps[key].update(text=text)
            else:
                self.steps[key] = Spinner("dots", text=text, style="yellow")

    def _render(self) -> Group:
        head = Text.from_markup("  ".join(f"{_ICON.get(st, st)} {name}" for name, st in self.stages.items()))
        table = Table(box=None, show_header=False)
        for tid, row in sorted(self.tasks.items()):
            table.add_row(_ICON.get(row.get("status", "pending"), ""), str(tid), row["task"],
                          Text(str(row.get("info", ""))))
        with self._steps_lock:
            steps = list(self.steps.values())
        return Group(head, table, *steps)


def render_plan_notes(console: Console, notes: list[str]) -> None:
    """Every note of the planner; those about tasks it left out stand out (they are also in the answer)."""
    for note in notes:
        console.print(f"[{'yellow' if is_dropped_note(note) else 'dim'}]plan note: {escape(note)}[/]")


def render_result(console: Console, result: RunResult, brief: bool = False) -> None:
    """Plan, chosen models, per-task results and the answer."""
    if result.plan and not brief:
        plan = Table("id", "task", "dep", "args", title=f"Plan ({result.planner} planner)")
        for t in result.plan:
            plan.add_row(str(t.id), t.task, Text(str(t.dep)), Text(json.dumps(t.args, ensure_ascii=False)[:200]))
        console.print(plan)
    if not brief:
        render_plan_notes(console, result.plan_notes)
    if result.results:
        table = Table("id", "task", "model", "status", "output", "s", title="Tasks")
        for r in result.results:
            status = _status_cell(r)
            if r.status == "ok":
                out = "\n".join((a.text or "")[:160] if a.kind == "text" else f"{a.kind}: {a.path}" for a in r.outputs)
            else:
                out = r.error.message if r.error else ""
            table.add_row(str(r.task.id), r.task.task, r.choice.model_id if r.choice else "-", status, Text(out),
                          f"{r.seconds:.2f}" if r.seconds is not None else "")
        console.print(table)
        if not brief:
            for r in result.results:
                if r.choice:
                    console.print(f"[dim]task {r.task.id}: {escape(r.choice.model_id)} via {r.choice.backend} - "
                                  f"{escape(r.choice.reason)}[/]")
    status = result.status
    style = _STATUS_STYLE[status]
    title = "Answer" if status == "succeeded" else f"Answer · run {status}"
    console.print(Panel(Text(result.answer or "(no answer)"), title=title, border_style=style))
    if status != "succeeded" and result.results:
        bad = [r for r in result.results if r.status != "ok"]
        console.print(f"[{style}]Run {status}: {len(result.results) - len(bad)} of {len(result.results)} task(s) "
                      f"done; not done: {escape(', '.join(f'{r.task.id} ({r.task.task}, {r.status})' for r in bad))}"
                      "[/]")
    if not brief:
        usage = result.usage or {}
        console.print(f"[dim]run {result.run_id} · {status} · {result.timings.get('total', 0):.2f} s · LLM calls "
                      f"{usage.get('calls', 0)}, tokens {usage.get('total_tokens', 0)}[/]")


_STATUS_STYLE = {"succeeded": "green", "partial": "yellow", "failed": "red"}


def _status_cell(r: TaskResult) -> str:
    """A task's status in the table; a result cache hit (execution/cache.py) is marked."""
    status = {"ok": "[green]ok[/]", "failed": "[red]failed[/]", "skipped": "[yellow]skipped[/]"}.get(r.status, r.status)
    return status + (" [cyan](cached)[/]" if r.cached else "")
