"""Write docs/experts.md from the expert classes (model card facts) and benchmarks/results/experts.json.

Usage: python benchmarks/experts.py && python scripts/experts_doc.py
"""

from __future__ import annotations

import json
from pathlib import Path

from hugginggpt.experts.registry import embedded_expert_classes
from hugginggpt.tasks import default_registry

ROOT = Path(__file__).resolve().parents[1]
INTRO = """# Embedded experts

Models whose weights ship inside installed packages: they run with no network and no GPU. Each is lazy-loaded,
kept in the LRU pool (`memory_budget_mb`), and listed in the catalog under its own model id with the real model
behind it. Regenerate this page with `python benchmarks/experts.py && python scripts/experts_doc.py`.

Measured with `benchmarks/experts.py` on {machine}: each expert in a fresh process; *load* = import + `load()`;
*+RSS* = resident memory the expert adds to an interpreter that has imported hugginggpt; *call* = median latency
on the benchmark's input (a 512×600 photo, a 640×260 invoice, 4.9 s of speech, short texts).

"""


def main() -> None:
    bench_file = ROOT / "benchmarks/results/experts.json"
    bench = json.loads(bench_file.read_text()) if bench_file.exists() else {"rows": [], "machine": {}}
    rows = {r["model_id"]: r for r in bench["rows"]}
    m = bench.get("machine", {})
    machine = f"{m.get('cpus', '?')} CPU cores, Python {m.get('python', '?')}, no GPU"
    lines = [INTRO.format(machine=machine)]
    lines.append("| task | model id | real model | licence | load s | +RSS MB | call s |")
    lines.append("|---|---|---|---|---|---|---|")
    for cls in sorted(embedded_expert_classes(), key=lambda c: (c.task, c.model_id)):
        r = rows.get(cls.model_id, {})
        if "load_s" in r:
            nums = f"{r['load_s']:.2f} | {r['rss_delta_mb']:.0f} | {r['median_s']:.3f}"
        else:
            nums = f"– | – | – ({r.get('skipped', 'not measured')})"
        lines.append(f"| {cls.task} | `{cls.model_id}` | {cls.real_model} | {cls.license} | {nums} |")
    lines.append("\n## What each expert cannot do\n")
    for cls in sorted(embedded_expert_classes(), key=lambda c: (c.task, c.model_id)):
        lines.append(f"- **`{cls.model_id}`** ({cls.task}): {cls.description} *Limits:* {cls.limitations}")
    covered = {c.task for c in embedded_expert_classes()}
    lines.append("\n## Abstractive polish of summaries (opt-in)\n")
    lines.append("`overrides: {summarization: hugginggpt/extractive-summary-llm-polish}` runs the extractive "
                 "summarizer, then has the controller LLM (the embedded SmolLM2 by default) rewrite the extract "
                 "into one sentence. "
                 "A small model may change facts (e.g. a tense), so the extract is kept in the result's "
                 "`data['extractive']` and the extractive summarizer stays the default.")
    missing = [t.name for t in default_registry() if t.name not in covered]
    lines.append("\n## Tasks with no offline model\n")
    lines.append("No fake outputs: these tasks fail with a `ModelSelectionError` naming the hub models and backends "
                 "that could serve them (`docs/backends.md`), and the rest of the run continues. "
                 "`conversational` and `text-generation` are served by the controller LLM itself "
                 "(embedded SmolLM2-135M by default; answers trivial prompts only).\n")
    lines.append(", ".join(f"`{t}`" for t in missing))
    (ROOT / "docs/experts.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote docs/experts.md ({len(embedded_expert_classes())} experts)")


if __name__ == "__main__":
    main()
