"""Load time and per-call latency of the embedded audio and text experts.

Usage: python benchmarks/audio_text_experts.py [--calls N]
Each expert is measured in a fresh process: "load" is import + ``load()`` there (so shared libraries such as torch or
onnxruntime count for every expert that needs them), "first" the first ``run`` after loading, and "median" the median
of N further runs on the same input. Inputs: a 4.9 s piper clip of speech, 3 s of white noise, short texts and a
rendered invoice. Prints a table and writes benchmarks/results/audio_text_experts.json.
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

ROOT = Path(__file__).resolve().parents[1]
SPEECH = "The quick brown fox jumps over the lazy dog. Please call me at five o'clock."
CONTEXT = ("The city council met on Tuesday to discuss the new riverside park. The park will cost $2.5 million. "
           "Construction will start next spring, according to Mayor Jane Smith. Local businesses welcomed the "
           "decision. Some residents worried about traffic. The park is expected to open in 2027.")


def inputs_for(task: str, media: Path) -> dict[str, object]:
    return {
        "automatic-speech-recognition": {"audio": media / "speech.wav"},
        "audio-classification": {"audio": media / "speech.wav"},
        "text-to-speech": {"text": SPEECH},
        "summarization": {"text": CONTEXT},
        "sentence-similarity": {"text": "A man is eating food.", "text2": "A man is eating bread."},
        "feature-extraction": {"text": "A man is eating food."},
        "zero-shot-classification": {"text": "The new phone has a faster chip.", "labels": "technology, sports, food"},
        "text-classification": {"text": "I love this wonderful park!"},
        "token-classification": {"text": "Barack Obama was born in Hawaii."},
        "question-answering": {"text": "When will construction start?", "context": CONTEXT},
        "document-question-answering": {"image": media / "invoice.png", "text": "What is the total due?"},
    }[task]


def make_media(media: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    from hugginggpt.experts.embedded.audio import PiperTTS

    (media / "speech.wav").write_bytes(PiperTTS().run({"text": SPEECH}).outputs[0].data or b"")
    image = Image.new("RGB", (640, 260), "white")
    draw = ImageDraw.Draw(image)
    for y, line in zip((30, 90, 150, 200), ("ACME Supplies Ltd.", "Invoice No. 12345", "Date: 2024-03-01",
                                            "Total due: $42.50"), strict=True):
        draw.text((30, y), line, fill="black", font=ImageFont.load_default(size=32))
    image.save(media / "invoice.png")


def measure_one(model_id: str, media: Path, calls: int) -> dict[str, object]:
    t0 = time.perf_counter()
    from hugginggpt.experts.embedded import audio, text

    cls = next(c for c in (*audio.EXPERTS, *text.EXPERTS) if c.model_id == model_id)
    expert = cls()
    expert.load()
    load_s = time.perf_counter() - t0
    inputs = inputs_for(cls.task, media)
    t1 = time.perf_counter()
    result = expert.run(inputs)
    first_s = time.perf_counter() - t1
    times = []
    for _ in range(calls):
        t1 = time.perf_counter()
        expert.run(inputs)
        times.append(time.perf_counter() - t1)
    out = result.outputs[0]
    shown = out.text if out.text is not None else f"<{len(out.data or b'')} bytes {out.ext}>"
    return {"model_id": model_id, "task": cls.task, "load_s": load_s, "first_s": first_s,
            "median_s": statistics.median(times), "output": shown[:60]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--media", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.media, args.calls)))
        return 0

    from hugginggpt.experts.embedded import audio, text

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp)
        make_media(media)
        for cls in (*audio.EXPERTS, *text.EXPERTS):
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

    print(f"{'model id':42} {'load s':>7} {'first s':>8} {'median s':>9}  output")
    for r in rows:
        if "load_s" in r:
            print(f"{r['model_id']:42} {r['load_s']:7.2f} {r['first_s']:8.3f} {r['median_s']:9.3f}  {r['output']!r}")
        else:
            print(f"{r['model_id']:42} {'-':>7} {'-':>8} {'-':>9}  {r.get('skipped') or r.get('error')}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    (results / "audio_text_experts.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
