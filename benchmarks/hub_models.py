"""Load time, memory and first-inference time of each tiny model on the transformers backend.

Usage: python benchmarks/hub_models.py [--device cpu|cuda|auto]
The models are the random-weight fixtures of tests/hub (built offline into a temporary directory, a few layers
each), so the numbers measure the backend's own overhead (pipeline construction, processors, the pool's RSS
accounting), not the cost of real checkpoints. With diffusers installed, tiny Stable Diffusion (text-to-image,
image-to-image), ControlNet and text-to-video pipelines run too, at 2 denoising steps and 32-64 px.
Prints a table and writes benchmarks/results/hub_models.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]  # tests/ for the tiny-model builders
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

INPUTS = {
    "text-classification": {"text": "the movie is good"},
    "token-classification": {"text": "john lives in new york"},
    "question-answering": {"text": "where does john live", "context": "john lives in paris"},
    "summarization": {"text": "the cat sat on the mat . the dog sat on the mat . it was sunny today"},
    "image-classification": {"image": "photo.png"},
    "object-detection": {"image": "photo.png"},
    "image-segmentation": {"image": "photo.png"},
    "automatic-speech-recognition": {"audio": "speech.wav"},
    "audio-classification": {"audio": "speech.wav"},
    "text-generation": {"text": "the cat sat on"},
    "zero-shot-classification": {"text": "the movie is good", "labels": "film, weather"},
    "feature-extraction": {"text": "the movie is good"},
    "image-to-text": {"image": "photo.png"},
    "depth-estimation": {"image": "photo.png"},
    "visual-question-answering": {"image": "photo.png", "text": "is the cat good"},
}
DIFFUSION_INPUTS = {  # the ControlNet's base is the tiny text-to-image pipeline (controlnet_base)
    "text-to-image": {"text": "a cat on a mat"},
    "image-to-image": {"image": "photo.png", "text": "a sunny day"},
    "canny-text-to-image": {"image": "photo.png", "text": "a golden ball"},
    "text-to-video": {"text": "a dog runs"},
}
DIFFUSION_STEPS = 2


def _media(root: Path) -> None:
    import numpy as np
    import soundfile as sf
    from PIL import Image

    Image.new("RGB", (320, 240), (40, 120, 200)).save(root / "photo.png")
    t = np.arange(16000 * 3) / 16000
    sf.write(root / "speech.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch
    import transformers

    from hub.tiny_models import build  # tests/hub/tiny_models.py
    from hugginggpt.backends.transformers import TransformersBackend
    from hugginggpt.catalog.cards import ModelCard
    from hugginggpt.experts.pool import ExpertPool, rss_mb

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _media(root)
        pool = ExpertPool(budget_mb=1e9)
        tasks = dict(INPUTS)
        base = None
        if importlib.util.find_spec("diffusers") is not None:
            tasks.update(DIFFUSION_INPUTS)
            base = str(build("text-to-image", root / "models"))
        backend = TransformersBackend(pool, device=args.device, controlnet_base=base, diffusion_steps=DIFFUSION_STEPS)
        for task, raw in tasks.items():
            model_dir = build(task, root / "models")
            size_mb = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file()) / 2**20
            card = ModelCard(id=f"tiny/{task}", task=task, path=str(model_dir), source="user")
            inputs = {k: (root / v if k in ("image", "audio") else v) for k, v in raw.items()}
            expert = backend.expert(card)
            load = pool.loads[-1]
            t0 = time.perf_counter()
            expert.run(inputs)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            expert.run(inputs)
            second = time.perf_counter() - t0
            rows.append({"task": task, "files_mb": round(size_mb, 2), "load_s": round(load.seconds, 3),
                         "load_rss_mb": round(load.rss_delta_mb, 1), "first_run_s": round(first, 3),
                         "run_s": round(second, 3)})
        rows.append({"task": "(process)", "files_mb": None, "load_s": None, "load_rss_mb": round(rss_mb(), 1),
                     "first_run_s": None, "run_s": None})
    device = backend.load_options().device
    header = f"{'task':30} {'files MB':>9} {'load s':>8} {'load +RSS MiB':>14} {'1st run s':>10} {'run s':>8}"
    print(f"transformers backend, tiny random models, device={device}, {platform.processor() or platform.machine()},"
          f" {os.cpu_count()} cores, torch {torch.__version__}, transformers {transformers.__version__}")
    print(header)
    print("-" * len(header))
    for r in rows:
        def cell(v: object, w: int) -> str:
            return f"{'' if v is None else v:>{w}}"
        print(f"{r['task']:30} {cell(r['files_mb'], 9)} {cell(r['load_s'], 8)} {cell(r['load_rss_mb'], 14)} "
              f"{cell(r['first_run_s'], 10)} {cell(r['run_s'], 8)}")
    out = ROOT / "benchmarks" / "results" / "hub_models.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": device, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
