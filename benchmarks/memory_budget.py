"""Process RSS against ``memory_budget_mb`` over runs of real embedded experts.

Results: benchmarks/results/memory_budget.json.

Each run uses one embedded expert (sentiment, NER, MiniLM summary, EfficientNet, mediapipe faces, OpenCV Canny);
after each run the script prints the process RSS and what the pool believes it holds. The last steps caption and
detect objects in a large-dimension PNG (``--large-side``, 6000 x 6000 by default, within ``max_image_pixels``),
which the experts decode at ``max_image_side`` (``--max-side``).

    python benchmarks/memory_budget.py --budget 1
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fault experts and the LLM double; hugginggpt as installed

from hugginggpt.agent import HuggingGPT  # noqa: E402
from hugginggpt.config import HuggingGPTConfig  # noqa: E402
from hugginggpt.experts.pool import rss_mb  # noqa: E402
from llm_doubles import ScriptedLLM  # noqa: E402
from planner_doubles import FixedPlanner  # noqa: E402

TEXT = ("The city council met on Tuesday in Springfield. Maria Lopez proposed a new park near the river. "
        "The vote was postponed to spring because the budget was not ready. Everyone liked the playground idea.")
STEPS = [
    ("text-classification", {"text": "What a wonderful, happy day!"}),
    ("token-classification", {"text": TEXT}),
    ("summarization", {"text": TEXT}),
    ("image-classification", {"image": "photo.png"}),
    ("object-detection", {"image": "photo.png"}),
    ("canny-control", {"image": "photo.png"}),
    ("image-to-text", {"image": "large.png"}),
    ("object-detection", {"image": "large.png"}),
]


class StepAgent(HuggingGPT):
    """One agent (one pool) whose planner returns the plan set before each run."""

    def __init__(self, config: HuggingGPTConfig, base: Path) -> None:
        self.fixed = FixedPlanner([])
        super().__init__(config, llm=ScriptedLLM(capable=False), planner=self.fixed, base_dir=base)


def max_rss_mb() -> float:
    """The process's peak RSS so far (a step's rise in it is that step's peak during its run)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def believed(pool: object) -> float:
    stats = getattr(pool, "stats", None)
    if callable(stats):
        return float(stats()["accounted_mb"])
    return float(pool.used_mb)  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--large-side", type=int, default=6000)
    ap.add_argument("--max-side", type=int, default=HuggingGPTConfig().max_image_side)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from PIL import Image, ImageDraw

    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        img = Image.new("RGB", (320, 240), (40, 120, 200))
        ImageDraw.Draw(img).ellipse((100, 40, 220, 200), fill=(230, 180, 40))
        img.save(base / "photo.png")
        img.resize((args.large_side, args.large_side)).save(base / "large.png", compress_level=1)
        agent = StepAgent(HuggingGPTConfig(workspace=base / "ws", allowed_dirs=[base], max_image_side=args.max_side,
                                           memory_budget_mb=int(args.budget)), base)
        rows = [{"step": "start", "rss_mb": round(rss_mb())}]
        for _ in range(args.rounds):
            for task, targs in STEPS:
                agent.fixed.tasks = [{"task": task, "id": 0, "args": targs}]
                result = agent.run(f"do {task}")
                gc.collect()
                rows.append({"step": f"{task} {targs.get('image', '')}".strip(), "status": result.status,
                             "rss_mb": round(rss_mb()), "max_rss_so_far_mb": round(max_rss_mb()),
                             "pool_believes_mb": round(believed(agent.pool), 1),
                             "loaded": len(agent.pool.loaded_ids())})
        peak = max(r["rss_mb"] for r in rows)
        text = json.dumps({"budget_mb": args.budget, "large_side": args.large_side, "max_image_side": args.max_side,
                           "peak_rss_mb": peak, "rows": rows}, indent=1)
        print(text)
        (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
        (ROOT / "benchmarks" / "results" / "memory_budget.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
