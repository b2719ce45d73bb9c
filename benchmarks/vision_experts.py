"""Load time and per-call latency of the embedded vision experts (classifier, detector, segmentation, pose, Canny,
OCR, composite captioner).

Usage: python benchmarks/vision_experts.py [--calls N]
Each expert is measured in a fresh process: "load" is import + ``load()`` there (shared libraries such as torch,
mediapipe or onnxruntime count for every expert that needs them), "first" the first ``run`` after loading, and
"median"/"min" the median and fastest of N further runs on the same input (on a busy machine the minimum is the
better estimate of the uncontended latency). Inputs: matplotlib's grace_hopper.jpg (512×600) and a rendered 640×220
invoice for OCR. Prints a table and writes benchmarks/results/vision_experts.json.
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


def make_media(media: Path) -> None:
    import matplotlib.cbook
    from PIL import Image, ImageDraw, ImageFont

    photo = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    (media / "photo.jpg").write_bytes(photo.read_bytes())
    image = Image.new("RGB", (640, 220), "white")
    draw = ImageDraw.Draw(image)
    draw.text((24, 40), "Invoice No. 12345", fill="black", font=ImageFont.load_default(size=32))
    draw.text((24, 130), "Total due: $42.50", fill="black", font=ImageFont.load_default(size=32))
    image.save(media / "invoice.png")


def _classes() -> list[type]:
    from hugginggpt.experts.embedded import caption, ocr, vision

    return [*vision.EXPERTS, *ocr.EXPERTS, *caption.EXPERTS]


def measure_one(model_id: str, media: Path, calls: int) -> dict[str, object]:
    t0 = time.perf_counter()
    cls = next(c for c in _classes() if c.model_id == model_id)
    expert = cls()
    expert.load()
    load_s = time.perf_counter() - t0
    image = media / ("invoice.png" if model_id.endswith("ocrv4-reader") else "photo.jpg")
    t1 = time.perf_counter()
    result = expert.run({"image": image})
    first_s = time.perf_counter() - t1
    times = []
    for _ in range(calls):
        t1 = time.perf_counter()
        expert.run({"image": image})
        times.append(time.perf_counter() - t1)
    out = result.outputs[0]
    shown = out.text if out.text is not None else f"<{len(out.data or b'')} bytes {out.ext}>"
    return {"model_id": model_id, "task": cls.task, "input": image.name, "load_s": load_s, "first_s": first_s,
            "median_s": statistics.median(times), "min_s": min(times), "output": shown[:70]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--media", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.media, args.calls)))
        return 0

    rows: list[dict[str, object]] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp)
        make_media(media)
        for cls in _classes():
            ok, why = cls.availability()
            if not ok:
                rows.append({"model_id": cls.model_id, "task": cls.task, "skipped": why})
                continue
            cmd = [sys.executable, __file__, "--one", cls.model_id, "--media", str(media), "--calls", str(args.calls)]
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "GLOG_minloglevel": "2"}
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
            if proc.returncode != 0:
                rows.append({"model_id": cls.model_id, "task": cls.task, "error": proc.stderr.strip()[-300:]})
                continue
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    head = f"{'model id':36} {'task':20} {'load s':>7} {'first s':>8} {'median s':>9} {'min s':>7}  output"
    print(head)
    for r in rows:
        if "load_s" in r:
            nums = f"{r['load_s']:7.2f} {r['first_s']:8.3f} {r['median_s']:9.3f} {r['min_s']:7.3f}"
            print(f"{r['model_id']:36} {r['task']:20} {nums}  {r['output']!r}")
        else:
            dashes = " ".join(f"{'-':>{n}}" for n in (7, 8, 9, 7))
            print(f"{r['model_id']:36} {r['task']:20} {dashes}  {r.get('skipped') or r.get('error')}")
    loadavg = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "loadavg_1min_before_after": loadavg}
    print(f"machine: {machine}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "vision_experts.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
