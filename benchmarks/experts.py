"""Load time, resident memory and per-call latency of every embedded expert.

Usage: python benchmarks/experts.py [--calls N] [--only MODEL_ID ...]
Each expert is measured in a fresh process. "load" is import + ``load()`` (shared libraries such as torch,
mediapipe or onnxruntime count for every expert that needs them); "RSS" is the process's resident memory after
loading, and "+RSS" its growth over an interpreter that has imported hugginggpt (what the expert itself costs the
pool); "first" is the first ``run``; "median"/"min" over N further runs on the same input (on a busy machine the
minimum is the better estimate of the uncontended latency). Inputs are generated offline: matplotlib's
grace_hopper.jpg, a rendered invoice, speech from the embedded TTS, short texts. Prints a table and writes
benchmarks/results/experts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEECH = "The quick brown fox jumps over the lazy dog. Please call me at five o'clock."
CONTEXT = ("The city council met on Tuesday to discuss the new riverside park. The park will cost $2.5 million. "
           "Construction will start next spring, according to Mayor Jane Smith. Local businesses welcomed the "
           "decision. Some residents worried about traffic. The park is expected to open in 2027.")
TEXT_INPUTS: dict[str, dict[str, str]] = {
    "text-to-speech": {"text": SPEECH},
    "summarization": {"text": CONTEXT},
    "sentence-similarity": {"text": "A man is eating food.", "text2": "A man is eating bread."},
    "feature-extraction": {"text": "A man is eating food."},
    "zero-shot-classification": {"text": "The new phone has a faster chip.", "labels": "technology, sports, food"},
    "text-classification": {"text": "I love this wonderful park!"},
    "token-classification": {"text": "Barack Obama was born in Hawaii."},
    "question-answering": {"text": "When will construction start?", "context": CONTEXT},
}


def inputs_for(cls: Any, media: Path) -> dict[str, Any]:
    if cls.task in TEXT_INPUTS:
        return dict(TEXT_INPUTS[cls.task])
    if cls.task in ("automatic-speech-recognition", "audio-classification", "audio-to-audio"):
        return {"audio": media / "speech.wav"}
    if cls.task == "document-question-answering":
        return {"image": media / "invoice.png", "text": "What is the total due?"}
    image = media / ("invoice.png" if "ocr" in cls.model_id else "photo.jpg")
    return {"image": image}


def make_media(media: Path) -> None:
    import matplotlib.cbook
    from PIL import Image, ImageDraw, ImageFont

    from hugginggpt.experts.registry import experts_for_task

    photo = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    (media / "photo.jpg").write_bytes(photo.read_bytes())
    image = Image.new("RGB", (640, 260), "white")
    draw = ImageDraw.Draw(image)
    for y, line in zip((30, 90, 150, 200), ("ACME Supplies Ltd.", "Invoice No. 12345", "Date: 2024-03-01",
                                            "Total due: $42.50"), strict=True):
        draw.text((30, y), line, fill="black", font=ImageFont.load_default(size=32))
    image.save(media / "invoice.png")
    tts = next(c for c in experts_for_task("text-to-speech") if c.availability()[0])()
    (media / "speech.wav").write_bytes(tts.run({"text": SPEECH}).outputs[0].data or b"")


def measure_one(model_id: str, media: Path, calls: int) -> dict[str, Any]:
    from hugginggpt.experts.pool import rss_mb
    from hugginggpt.experts.registry import embedded_expert_classes

    base_rss = rss_mb()
    cls = next(c for c in embedded_expert_classes() if c.model_id == model_id)
    t0 = time.perf_counter()
    expert = cls()
    expert.load()
    load_s = time.perf_counter() - t0
    inputs = inputs_for(cls, media)
    t1 = time.perf_counter()
    result = expert.run(inputs)
    first_s = time.perf_counter() - t1
    rss = rss_mb()
    times = []
    for _ in range(calls):
        t1 = time.perf_counter()
        expert.run(inputs)
        times.append(time.perf_counter() - t1)
    out = result.outputs[0]
    shown = out.text if out.text is not None else f"<{len(out.data or b'')} bytes {out.ext}>"
    return {"model_id": model_id, "task": cls.task, "load_s": load_s, "rss_mb": rss, "rss_delta_mb": rss - base_rss,
            "first_s": first_s, "median_s": statistics.median(times), "min_s": min(times), "output": shown[:70]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="model ids to measure (default: all)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--media", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.media, args.calls)))
        return 0

    from hugginggpt.experts.registry import embedded_expert_classes

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp)
        make_media(media)
        for cls in embedded_expert_classes():
            if args.only and cls.model_id not in args.only:
                continue
            ok, why = cls.availability()
            if not ok:
                rows.append({"model_id": cls.model_id, "task": cls.task, "skipped": why})
                continue
            proc = subprocess.run([sys.executable, __file__, "--one", cls.model_id, "--media", str(media),
                                   "--calls", str(args.calls)], capture_output=True, text=True, cwd=ROOT,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if proc.returncode != 0:
                rows.append({"model_id": cls.model_id, "task": cls.task, "error": proc.stderr.strip()[-300:]})
                continue
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    print(f"{'model id':42} {'task':28} {'load s':>6} {'RSS MB':>7} {'+RSS':>6} {'first s':>7} {'median s':>8} "
          f"{'min s':>6}")
    for r in rows:
        if "load_s" in r:
            print(f"{r['model_id']:42} {r['task']:28} {r['load_s']:6.2f} {r['rss_mb']:7.0f} {r['rss_delta_mb']:6.0f} "
                  f"{r['first_s']:7.3f} {r['median_s']:8.3f} {r['min_s']:6.3f}")
        else:
            print(f"{r['model_id']:42} {r['task']:28} {r.get('skipped') or r.get('error')}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_avg": os.getloadavg()}
    (results / "experts.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
