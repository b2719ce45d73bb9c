"""The learned detector's training code (``eval.training``) on small synthetic data: labels, order
statistics, the pair matrix, the scikit-learn fit and the numpy inference from its exported coefficients."""

from __future__ import annotations

import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from hugginggpt.eval import training as tr
from hugginggpt.planning.offline.features import EMBED_DIM, request_features
from hugginggpt.planning.offline.learned import LearnedModel, ToolSig
from hugginggpt.planning.offline.tool_planner import LearnedToolPlanner

pytest.importorskip("sklearn")

ASR = ToolSig("asr", "transcribe speech audio into text", ("audio",), ("text",))
TTS = ToolSig("tts", "read a text aloud as speech", ("text",), ("audio",))
DRAW = ToolSig("draw", "generate a picture from a text", ("text",), ("image",))
SIGS = [ASR, TTS, DRAW]


def embed(texts):
    """Hashed words as deterministic unit vectors of the real embedding width (no model needed)."""
    out = np.zeros((len(texts), EMBED_DIM), dtype=np.float32)
    for r, t in enumerate(texts):
        for w in t.lower().replace(".", " ").replace(",", " ").split():
            out[r, zlib.crc32(w.encode()) % EMBED_DIM] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


TRAIN = [
    tr.Example("transcribe meeting.wav", ("asr",)),
    tr.Example("write down what is said in talk.wav", ("asr",)),
    tr.Example("read this sentence aloud 'hello'", ("tts",)),
    tr.Example("say it out loud 'good night'", ("tts",)),
    tr.Example("draw a red fox", ("draw",)),
    tr.Example("paint a picture of a castle", ("draw",)),
    tr.Example("transcribe memo.wav and read the transcript aloud", ("asr", "tts"), ((0, 1),)),
    tr.Example("draw a cat and say 'meow' out loud", ("draw", "tts")),
]


def _data(examples=TRAIN, rules=None):
    rules = np.zeros((len(examples), len(SIGS)), np.float32) if rules is None else rules
    return tr.TrainingSet.build(examples, SIGS, embed, rules, {"tts": ("read the text aloud",)})


def test_examples_from_taskbench_samples_rename_and_drop_tools():
    node = SimpleNamespace
    samples = [SimpleNamespace(instruction="x", nodes=[node(task="A", arguments=["a.wav"]),
                                                       node(task="Skip", arguments=["<node-0>"]),
                                                       node(task="B", arguments=["<node-0>"])])]
    (ex,) = tr.examples_from_samples(samples, {"A": "a", "B": "b"}.get)
    # the unnamed tool is left out with its link; B's link to A survives under the new indices
    assert ex.tools == ("a", "b") and ex.links == ((0, 1),)


def test_labels_and_order_statistics():
    names = ["asr", "tts", "draw"]
    y = tr.label_matrix(TRAIN, names)
    assert y.shape == (8, 3) and y[6].tolist() == [1, 1, 0] and y[7].tolist() == [0, 1, 1]
    edges, roots = tr.order_statistics([*TRAIN, tr.Example("?", ("unknown", "asr"), ((0, 1),))], names)
    assert edges[0, 1] == 1 and edges.sum() == 1  # one link asr -> tts; the unknown tool's link is not counted
    assert roots.tolist() == [3, 3, 3]  # the last asr has a parent (outside the labels): not a root


def test_phrase_examples_hide_their_own_phrasing():
    data = _data([tr.Example("read the text aloud", ("tts",), phrase=True),
                  tr.Example("read the text aloud", ("tts",))])
    _, best = tr.similarity_features(data.read, data.examples, data.sigs, data.protos)
    assert best[1, 1] == pytest.approx(1.0, abs=1e-5)  # an ordinary request finds the phrasing
    assert best[0, 1] < 0.99  # the phrasing itself does not


def test_design_matrix_puts_each_tool_in_its_own_block():
    data = _data()
    cos, best = tr.similarity_features(data.read, data.examples, data.sigs, data.protos)
    x = tr.design(data.read, cos, best, data.rules)
    n, t = len(TRAIN), len(SIGS)
    assert x.shape[0] == n * t
    row = x[1 * t + 2].toarray()[0]  # request 1, tool 2
    hashed = row[: 4096 * t].reshape(4096, t)
    assert hashed[:, 2].any() and not hashed[:, :2].any()
    assert row[-3:] == pytest.approx(tr.SHARED_SCALE * np.array([cos[1, 2], best[1, 2], 0.0]))


def test_fit_learns_the_tools_and_numpy_inference_matches_scikit_learn(tmp_path):
    data = _data()
    clf, x = tr.fit_classifier(data, c=10.0)
    model = tr.fit(data, "toy", c=10.0, threshold=0.5, combine="add")
    assert model.pooling == "request" and model.combine == "add" and model.labels == ["asr", "tts", "draw"]
    planner = LearnedToolPlanner(model, SIGS, embed, {"tts": ("read the text aloud",)})
    ours = np.stack([planner.probabilities(f, r)[0] for f, r in zip(data.read, data.rules, strict=True)])
    theirs = clf.predict_proba(x)[:, 1].reshape(len(TRAIN), len(SIGS))
    assert ours == pytest.approx(theirs, abs=1e-4)
    assert ((ours >= 0.5) == (tr.label_matrix(TRAIN, model.labels) == 1)).all()
    model.save(tmp_path / "toy.npz")
    again = LearnedModel.load(tmp_path / "toy.npz")
    assert (again.pooling, again.combine) == ("request", "add")
    unseen = request_features("please transcribe lecture.wav", embed)
    assert again.labels[int(np.argmax(planner.probabilities(unseen, None)[0]))] == "asr"


def test_rule_feature_is_learned_when_the_rules_are_right():
    rules = tr.label_matrix(TRAIN, ["asr", "tts", "draw"])  # rules that are always right
    model = tr.fit(_data(rules=rules), "toy", c=1.0)
    assert model.beta is not None and float(model.beta[0]) > 1.0


def test_cross_validation_plans_only_held_requests():
    data = _data()
    planned, secs = tr.cross_validate(data, 2, lambda d: tr.fit(d, "toy", c=10.0, threshold=0.5), embed=embed,
                                      held=lambda ex: len(ex.tools) == 1)
    assert [p is None for p in planned] == [False] * 6 + [True, True]
    assert len(secs) == 6 and all(p for p in planned[:6])


def test_node_scores_and_confusions():
    gold = [{"a", "b"}, {"c"}]
    pred = [{"a"}, {"d"}]
    s = tr.node_scores(gold, pred)
    assert s["precision"] == pytest.approx(0.5) and s["recall"] == pytest.approx(1 / 3) and s["exact"] == 0.0
    assert tr.confusions(gold, pred) == [("b", "-", 1), ("c", "d", 1)]


def test_node_f1_threshold_and_oracle_k_by_hand():
    probs = np.array([[0.9, 0.1, 0.35], [0.1, 0.2, 0.05]], dtype=np.float32)
    gold = np.array([[1, 0, 1], [0, 0, 1]], dtype=np.float32)
    chosen = tr.at_threshold(probs, 0.3)
    # row 0: tools 0 and 2 pass; row 1: none passes, so its best tool (1) is taken
    assert chosen.tolist() == [[1, 0, 1], [0, 1, 0]]
    # TP 2, FP 1, FN 1 -> 2*2 / (4 + 1 + 1)
    assert tr.node_f1(chosen, gold) == pytest.approx(4 / 6)
    assert tr.oracle_k(probs, gold).tolist() == [[1, 0, 1], [0, 1, 0]]


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_clause_pooled_fit_learns_the_tools(optimizer):
    data = _data()
    model = tr.fit_pooled(data, "toy", l2=1e-3, threshold=0.5, optimizer=optimizer, max_iter=200)
    assert model.pooling == "clauses" and model.combine == "replace"
    planner = LearnedToolPlanner(model, SIGS, embed, {"tts": ("read the text aloud",)})
    probs = np.stack([planner.probabilities(f, r)[0] for f, r in zip(data.read, data.rules, strict=True)])
    assert ((probs >= 0.5) == (tr.label_matrix(TRAIN, model.labels) == 1)).all()
    nodes = planner.plan("transcribe memo.wav and read the transcript aloud")
    assert [n.tool for n in nodes] == ["asr", "tts"] and nodes[1].args == [("ref", 0)]


def test_blended_fit_carries_the_pair_model_as_companion(tmp_path):
    data = _data()
    model = tr.fit_blended(data, "toy", blend=0.3, l2=1e-3, threshold=0.5, c=10.0, max_iter=200)
    assert model.pooling == "clauses" and model.blend == pytest.approx(0.3)
    assert model.companion is not None and model.companion.combine == "blend"
    assert model.companion.pooling == "request" and model.companion.labels == model.labels
    planner = LearnedToolPlanner(model, SIGS, embed, {"tts": ("read the text aloud",)})
    probs = np.stack([planner.probabilities(f, r)[0] for f, r in zip(data.read, data.rules, strict=True)])
    assert ((probs >= 0.5) == (tr.label_matrix(TRAIN, model.labels) == 1)).all()
    # Saved as two files, loaded back as one model with its companion attached.
    from hugginggpt.planning.offline.learned import LearnedModel, attach_companions

    model.save(tmp_path / "toy.npz")
    model.companion.save(tmp_path / "toy.companion.npz")
    loaded = attach_companions([LearnedModel.load(tmp_path / name) for name in ("toy.npz", "toy.companion.npz")])
    assert len(loaded) == 1 and loaded[0].companion is not None and loaded[0].blend == pytest.approx(0.3)


def test_cached_features_are_read_again_when_the_parsing_rules_change(tmp_path, monkeypatch):
    cache = tmp_path / "read.pkl"
    texts = ["caption a.jpg", "transcribe b.wav then summarize it"]
    first = tr.read_all(texts, embed, cache)
    assert cache.exists() and [f.spans for f in tr.read_all(texts, embed, cache)] == [f.spans for f in first]
    calls = []
    monkeypatch.setattr(tr, "request_features", lambda t, e: calls.append(t) or first[texts.index(t)])
    tr.read_all(texts, embed, cache)
    assert calls == []  # same texts, same rules: served from the cache
    monkeypatch.setattr(tr, "_parsing_version", lambda: "other rules")
    tr.read_all(texts, embed, cache)
    assert calls == texts  # the rules changed: read again
