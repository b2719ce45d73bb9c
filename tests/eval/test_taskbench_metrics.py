"""TaskBench metrics against hand-computed cases (tool list: tests/eval/conftest.py)."""

from __future__ import annotations

import pytest

from hugginggpt.eval.data import Node, Sample
from hugginggpt.eval.metrics import Counts, TaskBenchScorer, content_type, graph_view, sequence_similarity


def sample(sid: str, nodes: list[Node], kind: str = "chain", raw: list[Node] | None = None) -> Sample:
    return Sample(id=sid, type=kind, instruction="x", nodes=nodes, raw_nodes=raw if raw is not None else nodes)


ITT, TTS, TR, OD, IC = "Image-to-Text", "Text-to-Speech", "Translation", "Object Detection", "Image Classification"


def test_content_type_follows_taskbench_extension_rule():
    assert content_type("example.jpg") == "image"
    assert content_type("'example.png'") == "image"  # quotes stripped
    assert content_type("song.wav") == "audio"
    assert content_type("clip.mp4") == "video"
    assert content_type("https://site.org/cat.gif") == "image"
    assert content_type("Hello, world!") == "text"
    assert content_type("PHOTO.PNG") == "text"  # TaskBench's test is case-sensitive
    assert content_type("see frame.jpg then clip.mp4") == "image"  # image is tested first


def test_counts_f1_is_micro():
    c = Counts()
    c.add({"a", "b"}, {"a", "c"})  # tp 1, fp 1, fn 1
    c.add({"d"}, {"d", "e"})  # tp 1, fp 1
    assert (c.tp, c.fp, c.fn) == (2, 2, 1)
    assert c.precision == pytest.approx(0.5)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(4 / 7)  # 2*tp / (2*tp + fp + fn)
    assert Counts().f1 == 0.0


def test_sequence_similarity_is_levenshtein_ratio():
    # Indel distance / total length: [1,2,3] vs [1,3] -> one deletion over 5 items -> 0.8
    assert sequence_similarity([1, 2, 3], [1, 3]) == pytest.approx(0.8)
    # a substitution costs 2 (delete + insert): [a,b] vs [a,c] -> 1 - 2/4
    assert sequence_similarity(["a", "b"], ["a", "c"]) == pytest.approx(0.5)
    assert sequence_similarity([], []) == 1.0
    assert sequence_similarity([1], []) == 0.0


def test_graph_view_edges_and_arguments(tools):
    nodes = [Node(ITT, ["example.jpg"]),
             Node(TR, ["Summary: <node-0>", "<node-1>"]),  # embedded reference counts; self-reference skipped
             Node(TTS, ["<node-7>"])]  # a reference to no node is a literal
    v = graph_view(nodes, tools.output_type_of)
    assert v.names == (ITT, TR, TTS)
    assert v.edges == {(ITT, TR)}
    assert v.arg_names == {"Image-to-Text-image", "Translation-text", "Text-to-Speech-text"}
    assert v.arg_values == {"Image-to-Text-image-example.jpg", "Translation-text-Image-to-Text",
                            "Text-to-Speech-text-<node-7>"}


def test_graph_view_reference_to_unknown_tool_is_other(tools):
    v = graph_view([Node("Magic Tool", ["x"]), Node(TR, ["<node-0>"])], tools.output_type_of)
    assert v.edges == {("Magic Tool", TR)}
    assert "Translation-other" in v.arg_names
    assert "Translation-other-Magic Tool" in v.arg_values


def test_graph_view_reads_dicts_underscores_and_object_arguments(tools):
    v = graph_view([{"task": "Object_Detection", "arguments": [{"name": "image", "value": "a.jpg"}]},
                    {"task": IC, "arguments": ["<node-0>"]}], tools.output_type_of)
    assert v.names == (OD, IC)
    assert v.arg_values == {"Object Detection-image-a.jpg", "Image Classification-image-Object Detection"}


def test_all_metrics_on_two_samples(tools):
    scorer = TaskBenchScorer(tools)
    # Sample A: the second tool is wrong.
    #   nodes  gold {ITT, TTS}  pred {ITT, TR}           -> tp 1, fp 1, fn 1
    #   edges  gold {ITT->TTS}  pred {ITT->TR}           -> tp 0, fp 1, fn 1
    #   t      gold {ITT-image, TTS-text} pred {ITT-image, TR-text}                       -> tp 1, fp 1, fn 1
    #   v      gold {ITT-image-example.jpg, TTS-text-ITT} pred {ITT-image-example.jpg, TR-text-ITT} -> 1, 1, 1
    #   sim    [ITT, TTS] vs [ITT, TR]: indel distance 2 over 4 -> 0.5
    scorer.add(sample("A", [Node(ITT, ["example.jpg"]), Node(TTS, ["<node-0>"])]),
               [Node(ITT, ["example.jpg"]), Node(TR, ["<node-0>"])])
    # Sample B: one extra tool.
    #   nodes  gold {OD} pred {OD, IC}                   -> tp 1, fp 1
    #   edges  none
    #   t      gold {OD-image} pred {OD-image, IC-image} -> tp 1, fp 1
    #   v      gold {OD-image-x.jpg} pred {OD-image-x.jpg, IC-image-x.jpg} -> tp 1, fp 1
    #   sim    [OD] vs [OD, IC]: distance 1 over 3 -> 2/3
    scorer.add(sample("B", [Node(OD, ["x.jpg"])], kind="single"),
               [Node(OD, ["x.jpg"]), Node(IC, ["x.jpg"])])
    m = scorer.result("strict")
    # nodes: tp 2, fp 2, fn 1 -> F1 = 4 / 7
    assert m["n_f1"] == pytest.approx(4 / 7)
    assert m["n_precision"] == pytest.approx(0.5)
    assert m["n_recall"] == pytest.approx(2 / 3)
    # edges: tp 0 -> 0
    assert m["e_f1"] == 0.0
    # t and v: tp 2, fp 2, fn 1 -> 4 / 7
    assert m["t_f1"] == pytest.approx(4 / 7)
    assert m["v_f1"] == pytest.approx(4 / 7)
    # NED = 1 - mean(0.5, 2/3) = 1 - 7/12 = 5/12
    assert m["ned"] == pytest.approx(5 / 12)
    assert m["n_samples"] == 2
    # per type: chain is sample A alone -> nodes tp 1 fp 1 fn 1 -> F1 0.5; NED 0.5
    assert m["by_type"]["chain"]["n_f1"] == pytest.approx(0.5)
    assert m["by_type"]["chain"]["ned"] == pytest.approx(0.5)
    assert m["by_type"]["single"]["n_f1"] == pytest.approx(2 / 3)  # tp 1, fp 1 -> 2 / 3
    # no failure, no tool outside the list: the original rule gives the same numbers here
    assert scorer.result("original")["n_f1"] == pytest.approx(4 / 7)


def test_perfect_prediction_scores_one(tools):
    gold = [Node(ITT, ["example.jpg"]), Node(TR, ["<node-0>"]), Node(TTS, ["<node-1>"])]
    scorer = TaskBenchScorer(tools)
    scorer.add(sample("A", gold), [Node(n.task, list(n.arguments)) for n in gold])
    m = scorer.result()
    assert (m["n_f1"], m["e_f1"], m["t_f1"], m["v_f1"], m["ned"]) == (1.0, 1.0, 1.0, 1.0, 0.0)


def test_strict_and_original_rules_differ_on_failures_and_unknown_tools(tools):
    scorer = TaskBenchScorer(tools)
    # Sample 1: an extra predicted tool outside the list.
    #   strict:   nodes gold {TR} pred {TR, Web Search} -> tp 1, fp 1;  sim [TR] vs [TR, Web Search] = 2/3
    #   original: pred names outside the list are ignored -> tp 1;      sim [3] vs [3, 0] = 2/3
    scorer.add(sample("1", [Node(TR, ["hello"])]), [Node(TR, ["hello"]), Node("Web Search", ["hello"])])
    # Sample 2: the planner failed.
    #   strict:   empty prediction -> nodes fn 1, t fn 1, v fn 1; sim 0
    #   original: dropped
    scorer.add(sample("2", [Node(ITT, ["example.jpg"])]), None)
    strict, original = scorer.result("strict"), scorer.result("original")
    assert strict["n_f1"] == pytest.approx(0.5)  # tp 1, fp 1, fn 1 -> 2 / 4
    assert original["n_f1"] == pytest.approx(1.0)  # tp 1
    # t-F1 counts every name under both rules: sample 1 gives tp 1 (TR-text), fp 1 (Web Search-text)
    assert strict["t_f1"] == pytest.approx(0.5)  # + fn 1 from sample 2 -> 2 / (2 + 1 + 1)
    assert original["t_f1"] == pytest.approx(2 / 3)  # 2 / (2 + 1)
    assert strict["ned"] == pytest.approx(1 - (2 / 3 + 0) / 2)
    assert original["ned"] == pytest.approx(1 / 3)
    assert (strict["n_samples"], original["n_samples"]) == (2, 1)
    assert scorer.failed == 1 and scorer.predicted_off_list == 1


def test_ned_unknown_names_match_each_other_only_under_the_original_rule(tools):
    scorer = TaskBenchScorer(tools)
    # Gold and prediction both use (different) names outside the list.
    #   original: both map to tool index 0 -> [0] vs [0] -> similarity 1 -> NED 0; n-F1 ignores both (no counts)
    #   strict:   "Speech Magic" != "Voice Thing" -> similarity 0 -> NED 1; nodes fp 1, fn 1 -> F1 0
    scorer.add(sample("1", [Node("Speech Magic", ["a.wav"])]), [Node("Voice Thing", ["a.wav"])])
    assert scorer.result("original")["ned"] == pytest.approx(0.0)
    assert scorer.result("original")["n_f1"] == 0.0
    assert scorer.result("strict")["ned"] == pytest.approx(1.0)


def test_original_rule_uses_raw_gold_names(tools):
    # The gold file says "Audio Transcription" (outside the list); the normalizer mapped it for the strict rule.
    scorer = TaskBenchScorer(tools)
    asr = "Automatic Speech Recognition"
    scorer.add(sample("1", [Node(asr, ["a.wav"])], raw=[Node("Audio Transcription", ["a.wav"])]),
               [Node(asr, ["a.wav"])])
    assert scorer.result("strict")["n_f1"] == 1.0
    # original: the gold name is ignored, the predicted one is a false positive -> tp 0, fp 1 -> F1 0
    assert scorer.result("original")["n_f1"] == 0.0


def test_missing_type_has_no_numbers(tools):
    scorer = TaskBenchScorer(tools)
    scorer.add(sample("1", [Node(TR, ["a"])], kind="single"), [Node(TR, ["a"])])
    by_type = scorer.result()["by_type"]
    assert set(by_type) == {"single"}
    assert by_type["single"]["n_samples"] == 1


def test_unknown_type_counts_overall_only(tools):
    scorer = TaskBenchScorer(tools)
    scorer.add(sample("1", [Node(TR, ["a"])], kind="unknown"), [Node(TR, ["a"])])
    m = scorer.result()
    assert m["n_samples"] == 1 and m["by_type"] == {}
