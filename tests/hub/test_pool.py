"""The LRU pool with real models: when the process's resident memory (RSS, measured) is over the budget, the least
recently used idle model is unloaded and the RSS goes down; a leased model stays."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from hugginggpt.backends.transformers import TransformersBackend
from hugginggpt.catalog.cards import ModelCard
from hugginggpt.experts.pool import ExpertPool, rss_mb
from hugginggpt.residents import residents

pytestmark = pytest.mark.slow


def _sized_classifier(out: Path, seed: int) -> Path:
    """A text classifier with ~28M random parameters (~110 MB in float32): big enough to see in the RSS."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from hub.tiny_models import _word_tokenizer

    torch.manual_seed(seed)
    tok, vocab = _word_tokenizer()
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=768, num_hidden_layers=4, num_attention_heads=12,
                     intermediate_size=3072, max_position_embeddings=128, id2label={0: "NEG", 1: "POS"},
                     label2id={"NEG": 0, "POS": 1})
    BertForSequenceClassification(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_lru_unloads_least_recently_used(tmp_path: Path, tiny) -> None:
    dirs = {name: _sized_classifier(tmp_path / name, i) for i, name in enumerate(("a", "b", "c"))}
    cards = {n: ModelCard(id=f"sized/{n}", task="text-classification", path=str(d), source="user")
             for n, d in dirs.items()}
    # Warm up: the first load pays for importing torch/transformers, which no model should be charged for.
    warm = TransformersBackend(ExpertPool(), device="cpu")
    warm.expert(ModelCard(id="tiny/warm", task="text-classification", path=str(tiny("text-classification")),
                          source="user")).run({"text": "good"})

    # Process-wide models that earlier tests loaded (MiniLM, spaCy...) count against the budget and would be released
    # first, freeing the room this test measures; start without them.
    for resident in residents():
        if resident.is_loaded():
            resident.release()
    pool = ExpertPool(budget_mb=1e9)
    backend = TransformersBackend(pool, device="cpu")
    backend.expert(cards["a"]).run({"text": "the movie is good"})
    cost = pool.loads[-1].rss_delta_mb
    assert cost > 50, f"a ~110 MB model should grow the RSS measurably, got {cost:.0f} MiB"
    gc.collect()
    # The budget is the process's measured RSS: room for what is resident now (a) and half a model more, so the
    # second load must evict the first.
    pool.budget_mb = rss_mb() + 0.5 * cost

    backend.expert(cards["b"]).run({"text": "a bad film"})
    assert pool.loaded_ids() == ["sized/b"]  # a was the least recently used and went over the budget
    assert pool.evictions[-1].name == "sized/a"
    assert pool.evictions[-1].rss_before_mb - pool.evictions[-1].rss_after_mb > 0.5 * cost  # measured, not assumed

    backend.expert(cards["b"]).run({"text": "again"})  # a hit: no load
    assert [r.model_id for r in pool.loads] == ["sized/a", "sized/b"]

    gc.collect()
    before_c = rss_mb()
    with pool.leasing():  # b is in use while c loads: over budget, but a leased model is never unloaded
        backend.expert(cards["b"])
        backend.expert(cards["c"]).run({"text": "great"})
        assert set(pool.loaded_ids()) == {"sized/b", "sized/c"}
        # Two models resident now; memory freed earlier in the process may have been reused for c, so set the budget
        # from what is measured here: one model more than it allows.
        pool.budget_mb = rss_mb() - 0.5 * cost
    # the lease is over and the process is over budget: the least recently used of the two goes
    assert len(pool.loaded_ids()) == 1
    gc.collect()
    after_c = rss_mb()
    # Loading c and unloading one leaves the RSS about where it was: one model resident, not two.
    assert after_c - before_c < 0.6 * cost, (before_c, after_c, cost)

    pool.unload_all()
    gc.collect()
    assert rss_mb() < after_c - 0.5 * cost  # and unloading everything gives the memory back
