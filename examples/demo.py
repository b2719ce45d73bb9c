"""`make demo`: generate example inputs, then run several multimodal requests offline and show real outputs."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

REQUESTS = [
    "Describe examples/poster.png and read the description aloud.",
    "Transcribe examples/speech.wav and summarize it.",
    "What kind of animal is in examples/cat.jpg? Also find the faces in examples/poster.png.",
    "What is the total due on the invoice in examples/invoice.png?",
    "Is this review positive or negative: 'The museum tour was wonderful and the staff were friendly.'",
]
FOLLOW_UP = "Now transcribe that audio."


def main() -> int:
    from make_examples import main as make_examples

    from hugginggpt import HuggingGPT, HuggingGPTConfig
    from hugginggpt.cli_runs import RunRecorder
    from hugginggpt.render import ProgressView, render_result

    console = Console()
    os.chdir(ROOT)
    console.print(Rule("Example inputs (generated offline)"))
    for p in make_examples(HERE):
        console.print(f"  {p.relative_to(ROOT)}  ({p.stat().st_size} bytes)")
    agent = HuggingGPT(HuggingGPTConfig(workspace=ROOT / ".hugginggpt", allowed_dirs=[ROOT]), base_dir=ROOT)
    recorder = RunRecorder(agent.config, "demo")  # the runs go in the workspace's run history, as the CLI's do
    failures = 0
    history: list[dict[str, str]] = []
    for request in REQUESTS:
        console.print(Rule(f"[bold]{request}"))
        t0 = time.perf_counter()
        with recorder.run(request, []) as rec, ProgressView(console) as view:  # `hugginggpt runs show <id>`
            result = rec.done(agent.run(request, on_event=view.on_event, run_id=rec.run_id))
        render_result(console, result)
        console.print(f"[dim]wall time {time.perf_counter() - t0:.2f} s[/]")
        failures += result.error is not None or any(r.status != "ok" for r in result.results)
        if request == REQUESTS[0]:
            history = [{"role": "user", "content": request}, {"role": "assistant", "content": result.answer}]
    console.print(Rule(f"[bold]Follow-up in the same chat: {FOLLOW_UP}"))
    with recorder.run(FOLLOW_UP, []) as rec:
        result = rec.done(agent.chat([*history, {"role": "user", "content": FOLLOW_UP}], run_id=rec.run_id))
    render_result(console, result)
    failures += result.error is not None or any(r.status != "ok" for r in result.results)
    console.print(Rule())
    console.print(f"Artifacts are in {agent.store.root}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
