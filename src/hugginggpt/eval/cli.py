"""``hugginggpt eval``: benchmark commands. Imported at CLI start-up, so only Typer here; the harness is lazy."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from ..errors import HuggingGPTError

eval_app = typer.Typer(help="Evaluate planners on benchmarks (TaskBench).", no_args_is_help=True,
                       add_completion=False)

_PCT = ("n_f1", "e_f1", "t_f1", "v_f1")


@eval_app.command("taskbench")
def taskbench(
    data: Annotated[Path, typer.Option("--data", help="TaskBench samples (JSONL), e.g. huggingface_dev.jsonl.")],
    tools: Annotated[Path, typer.Option("--tools", help="The domain's tool_desc.json.")],
    planner: Annotated[str, typer.Option("--planner", help="offline | llm | hybrid | taskbench-baseline")] = "offline",
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N samples.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as one JSON line (last).")] = False,
    tool_names: Annotated[str, typer.Option("--tool-names", help="registry: tools with a registry equivalent are "
                                            "offered under our task names; native: all under their own.")] = "registry",
    predictions: Annotated[Path | None, typer.Option("--predictions", help="Write per-sample predictions (JSONL).")]
    = None,
    demos_from: Annotated[Path | None, typer.Option("--demos-from", help="A dev file to take baseline examples "
                                                    "from.")] = None,
    demos: Annotated[int, typer.Option("--demos", help="Worked examples in the baseline prompt.")] = 0,
    llm_url: Annotated[str | None, typer.Option("--llm-url", help="OpenAI-compatible base URL.")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="Model name at the endpoint.")] = None,
    gguf: Annotated[Path | None, typer.Option("--gguf", help="A GGUF file for the embedded LLM.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Plan each sample's request and score the plans with TaskBench's metrics (n/e/t/v-F1, NED)."""
    from ..errors import HuggingGPTError
    from .taskbench import configured_llm, run

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    def llm_factory() -> Any:
        return configured_llm(llm_url, llm_model, gguf)

    progress = None if as_json or not sys.stderr.isatty() else _Progress()
    try:
        summary = run(data, tools, planner, limit=limit, tool_names=tool_names, llm_factory=llm_factory,
                      demos_from=demos_from, demos=demos, predictions_out=predictions,
                      on_prediction=progress.tick if progress else None)
    except HuggingGPTError as exc:
        _fail(exc, as_json)
    finally:
        if progress:
            progress.done()
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        render_summary(summary)


@eval_app.command("wording")
def wording(
    split: Annotated[str, typer.Option("--split", help="dev | heldout | jarvis | all")] = "all",
    planner: Annotated[str, typer.Option("--planner", help="offline | llm | hybrid")] = "offline",
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as one JSON line.")] = False,
    failures: Annotated[bool, typer.Option("--failures", help="List each request not planned exactly.")] = False,
    llm_url: Annotated[str | None, typer.Option("--llm-url", help="OpenAI-compatible base URL.")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="Model name at the endpoint.")] = None,
) -> None:
    """Plan our own requests in many wordings (and the original system's examples) and score the plans."""
    from ..errors import HuggingGPTError
    from .taskbench import configured_llm
    from .wording import SPLITS
    from .wording import run as run_wording

    splits = list(SPLITS) if split == "all" else [split]
    try:
        summary = run_wording(splits, planner, llm_factory=lambda: configured_llm(llm_url, llm_model),
                              failures=failures)
    except HuggingGPTError as exc:
        _fail(exc, as_json)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        render_wording(summary, failures=failures)


def _fail(exc: HuggingGPTError, as_json: bool) -> NoReturn:
    """Report a failed evaluation (a JSON ``error`` line with ``--json``, else the message and hint on stderr) and
    exit with status 2."""
    if as_json:
        print(json.dumps({"error": exc.to_dict()}))
    else:
        typer.echo(f"{type(exc).__name__}: {exc.message}" + (f"\n{exc.hint}" if exc.hint else ""), err=True)
    raise typer.Exit(2) from None


def render_wording(summary: dict[str, Any], failures: bool = False) -> None:
    """The wording metrics as a Rich table (one row per set), then the failures when asked for."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table("set", "n", "exact", "n-P", "n-R", "n-F1", "e-F1", "empty", "PlanError", "median s",
                  title=f"Wording sets, planner {summary['planner']} (percent)")
    for name, m in summary["splits"].items():
        table.add_row(name, str(m["n"]), *(_fmt(m[k], True) for k in
                                           ("exact_rate", "n_precision", "n_recall", "n_f1", "e_f1")),
                      str(m["empty_plans"]), str(m["plan_errors"]), _fmt(m["seconds_median"], False))
    console.print(table)
    for name, m in summary["splits"].items():
        weak = ", ".join(f"{t} {100 * r:.0f}" for t, r in m["task_recall"].items() if r < 1.0)
        console.print(f"[dim]{name}: per-task recall below 100: {weak or 'none'}[/]")
        for f in m.get("failures", []) if failures else []:
            got = "error " + str(f["error_type"]) if f["got"] is None else _plan_text(f["got"])
            console.print(f"[bold]{escape(f['id'])}[/] {escape(f['request'])}\n"
                          f"  expected: {escape(_plan_text(f['expected']))}\n  got:      {escape(got)}")


def _plan_text(plan: list[dict[str, Any]]) -> str:
    """A plan on one line: ``task(slot=value, ...)`` per task, ``#k`` for ``<GENERATED>-k``."""
    if not plan:
        return "[] (empty)"
    parts = []
    for t in plan:
        args = ", ".join(f"{k}={str(v).replace('<GENERATED>-', '#')[:60]}" for k, v in (t.get("args") or {}).items())
        parts.append(f"{t['id']}:{t['task']}({args})")
    return "; ".join(parts)


class _Progress:
    def __init__(self) -> None:
        self.n = 0
        self.failed = 0

    def tick(self, pred: Any) -> None:
        self.n += 1
        self.failed += pred.nodes is None
        sys.stderr.write(f"\r{self.n} planned, {self.failed} failed")
        sys.stderr.flush()

    def done(self) -> None:
        if self.n:
            sys.stderr.write("\n")


def _fmt(value: Any, pct: bool) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}" if pct else f"{value:.4f}"


def render_summary(summary: dict[str, Any]) -> None:
    """The metrics as Rich tables: strict rule per type, then TaskBench's original rule."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rows = [("all", summary), *((k, v) for k, v in summary["by_type"].items())]
    title = (f"TaskBench {summary['domain']}, planner {summary['planner']}: strict rule\n"
             "(failed = empty plan; tools outside the list are false positives)")
    table = Table("type", "n", "n-F1", "e-F1", "t-F1", "v-F1", "NED", "fail", "s/req", "median", title=title)
    for name, m in rows:
        table.add_row(name, str(m["n_samples"]), *(_fmt(m[k], True) for k in _PCT), _fmt(m["ned"], False),
                      str(m.get("failed", 0)), _fmt(m.get("seconds_per_request"), False),
                      _fmt(m.get("seconds_median"), False))
    console.print(table)
    orig = summary["original"]
    t2 = Table("type", "n", "n-F1", "e-F1", "t-F1", "v-F1", "NED",
               title="TaskBench's original rule (compare with the leaderboard)\n"
                     "(failed predictions dropped; names outside the list ignored in n-F1)")
    for name, m in [("all", orig), *orig["by_type"].items()]:
        t2.add_row(name, str(m["n_samples"]), *(_fmt(m[k], True) for k in _PCT), _fmt(m["ned"], False))
    console.print(t2)
    norm = summary["normalization"]
    fixes = ", ".join(f"{k}: {v}" for k, v in norm["counts"].items()) or "none"
    console.print(f"[dim]failures: {summary['failures'] or 'none'}; predicted names outside the tool list: "
                  f"{summary['predicted_outside_tool_list']}[/]")
    console.print(f"[dim]gold normalization ({norm['samples_touched']} of {norm['samples']} samples, "
                  f"{norm['skipped']} skipped): {fixes}[/]")
