"""The gold-data normalizer: one constructed record per quirk of the released TaskBench data."""

from __future__ import annotations

import json

import pytest

from hugginggpt.errors import ConfigError
from hugginggpt.eval.data import NormalizationReport, load_samples, normalize_records, normalize_sample


def norm(record, tools):
    report = NormalizationReport()
    s = normalize_sample(record, tools, report)
    return s, report


def rec(nodes, links=None, **extra):
    return {"id": "1", "type": "chain", "n_tools": len(nodes) if isinstance(nodes, list) else 1,
            "instruction": "do it", "task_nodes": nodes, "task_links": links or [], **extra}


def args(s):
    return [n.arguments for n in s.nodes]


def test_clean_record_is_unchanged(tools):
    s, r = norm(rec([{"task": "Image-to-Text", "arguments": ["example.jpg"]},
                     {"task": "Translation", "arguments": ["<node-0>"]}],
                    [{"source": "Image-to-Text", "target": "Translation"}]), tools)
    assert [n.task for n in s.nodes] == ["Image-to-Text", "Translation"]
    assert args(s) == [["example.jpg"], ["<node-0>"]]
    assert s.links == [("Image-to-Text", "Translation")]
    assert not r.counts and r.samples == 1


def test_task_nodes_as_single_object(tools):
    s, r = norm(rec({"task": "Translation", "arguments": ["hi"]}), tools)
    assert [n.task for n in s.nodes] == ["Translation"]
    assert r.counts["task_nodes_single_object"] == 1


def test_arguments_as_string_and_as_object(tools):
    s, r = norm(rec([{"task": "Text-to-Speech", "arguments": "Hello"},
                     {"task": "Translation", "arguments": {"text": "Bonjour", "lang": "en"}}]), tools)
    assert args(s) == [["Hello"], ["Bonjour", "en"]]
    assert r.counts["arguments_string"] == 1 and r.counts["arguments_object"] == 1


def test_parameters_instead_of_arguments(tools):
    s, r = norm(rec([{"task": "Translation", "parameters": ["hola"]}]), tools)
    assert args(s) == [["hola"]]
    assert r.counts["parameters_instead_of_arguments"] == 1


def test_numeric_object_and_list_arguments(tools):
    s, r = norm(rec([{"task": "Translation", "arguments": [2, 1.5, {"name": "x", "value": "v"}, ["a", "b"], None]}]),
                tools)
    assert args(s) == [["2", "1.5", "v", "a b"]]
    assert r.counts["numeric_argument"] == 2
    assert r.counts["argument_object"] == 1 and r.counts["argument_list"] == 1
    assert r.counts["argument_null_dropped"] == 1


def test_extra_keys_on_nodes_and_links(tools):
    s, r = norm(rec([{"task": "Image-to-Text", "arguments": ["a.jpg"], "output": ["x.png"]},
                     {"task": "Translation", "arguments": ["<node-0>"]}],
                    [{"source": "Image-to-Text", "target": "Translation", "label": "pipe"}]), tools)
    assert s.links == [("Image-to-Text", "Translation")]
    assert r.counts["extra_node_keys"] == 1 and r.counts["extra_link_keys"] == 1


def test_links_by_index_and_link_typo(tools):
    s, r = norm(rec([{"task": "Image-to-Text", "arguments": ["a.jpg"]},
                     {"task": "Translation", "arguments": ["<node-0>"]},
                     {"task": "Text-to-Speech", "arguments": ["<node-1>"]}],
                    [{"source": 0, "target": 1}, {"source": "Translation", "target": "Text-to-Speach"},
                     {"source": "Nothing Like It", "target": "Translation"}]), tools)
    assert s.links == [("Image-to-Text", "Translation"), ("Translation", "Text-to-Speech")]
    assert r.counts["link_by_index"] == 2
    assert r.counts["link_name_fixed"] == 1 and r.counts["link_dropped"] == 1


def test_output_of_references(tools):
    s, r = norm(rec([{"task": "Object Detection", "arguments": ["a.jpg"]},
                     {"task": "Image Classification", "arguments": ["<output_of_Object_Detection>"]}]), tools)
    assert args(s)[1] == ["<node-0>"]
    assert r.counts["output_of_ref"] == 1


def test_node_reference_variants(tools):
    s, r = norm(rec([{"task": "Object Detection", "arguments": ["a.jpg"]},
                     {"task": "Image Classification", "arguments": ["<node-0-output-image>"]},
                     {"task": "Image-to-Text", "arguments": ["<node-1.output.text>"]}]), tools)
    assert args(s)[1:] == [["<node-0>"], ["<node-1>"]]
    assert r.counts["node_ref_variant"] == 2


def test_placeholder_resolved_through_links_or_kept(tools):
    s, r = norm(rec([{"task": "Translation", "arguments": ["<user-provided-text>"]},
                     {"task": "Text-to-Speech", "arguments": ["<translated_text>"]}],
                    [{"source": "Translation", "target": "Text-to-Speech"}]), tools)
    assert args(s) == [["<user-provided-text>"], ["<node-0>"]]
    assert r.counts["placeholder_ref_resolved"] == 1 and r.counts["placeholder_ref_unresolved"] == 1


def test_embedded_and_dangling_references_are_kept_and_counted(tools):
    s, r = norm(rec([{"task": "Image-to-Text", "arguments": ["a.jpg"]},
                     {"task": "Translation", "arguments": ["The caption is <node-0>."]},
                     {"task": "Text-to-Speech", "arguments": ["<node-9>"]}]), tools)
    assert args(s)[1:] == [["The caption is <node-0>."], ["<node-9>"]]
    assert r.counts["embedded_node_ref"] == 1 and r.counts["dangling_node_ref"] == 1


def test_names_outside_the_tool_list(tools):
    s, r = norm(rec([{"task": "image to text", "arguments": ["a.jpg"]},          # spelling
                     {"task": "Audio Transcription", "arguments": ["a.wav"]},    # registry alias of ASR
                     {"task": "Text_to_Speech", "arguments": ["<node-1>"]},      # underscores
                     {"task": "Web Search", "arguments": ["cats"]}]), tools)     # no equivalent
    assert [n.task for n in s.nodes] == ["Image-to-Text", "Automatic Speech Recognition", "Text-to-Speech",
                                         "Web Search"]
    # the original rule's gold keeps the file's names (underscores read as spaces, as TaskBench does)
    assert [n.task for n in s.raw_nodes] == ["image to text", "Audio Transcription", "Text to Speech", "Web Search"]
    assert r.counts["name_spelling_fixed"] == 2
    assert r.counts["name_alias_mapped"] == 1
    assert r.counts["name_underscore"] == 1
    assert r.counts["name_outside_tool_list"] == 1


def test_n_tools_mismatch_and_unknown_type(tools):
    s, r = norm({"id": "7", "type": "tree", "n_tools": 4, "instruction": "x",
                 "task_nodes": [{"task": "Translation", "arguments": ["a"]}], "task_links": []}, tools)
    assert s.type == "unknown" and s.n_tools == 4
    assert r.counts["n_tools_mismatch"] == 1 and r.counts["type_unknown"] == 1


def test_released_field_names(tools):
    s, r = norm({"id": "8", "type": "single", "user_request": "translate 'hi'",
                 "tool_nodes": [{"task": "Translation", "arguments": ["hi"]}]}, tools)
    assert s.instruction == "translate 'hi'" and [n.task for n in s.nodes] == ["Translation"]
    assert r.counts["user_request_key"] == 1 and r.counts["tool_keys"] == 1


@pytest.mark.parametrize("record", [
    None, [], "text", 5,
    {"id": "x"},
    {"id": "x", "instruction": ""},
    {"id": "x", "instruction": "a", "task_nodes": 5},
    {"id": "x", "instruction": "a", "task_nodes": "not json"},
    {"id": "x", "instruction": "a", "task_nodes": [None, 3, {"arguments": ["a"]}, "Translation"]},
    {"id": "x", "instruction": "a", "task_nodes": [{"task": "Translation", "arguments": None}], "task_links": "abc"},
    {"id": "x", "instruction": "a", "task_nodes": [{"task": "Translation", "arguments": 7}],
     "task_links": [None, {"source": 5, "target": 0}, {"source": [1], "target": "x"}]},
    {"id": "x", "instruction": "a", "task_nodes": [{"task": "Translation", "arguments": [{}]}], "n_tools": "two"},
])
def test_never_crashes(record, tools):
    report = NormalizationReport()
    s = normalize_sample(record, tools, report)
    assert s is None or isinstance(s.nodes, list)
    assert report.samples + report.skipped == 1


def test_load_samples_skips_bad_lines(tmp_path, tools):
    path = tmp_path / "d.jsonl"
    good = rec([{"task": "Translation", "arguments": ["a"]}])
    path.write_text("\n".join([json.dumps(good), "{not json", "", json.dumps({"id": "2"}), json.dumps(good)]))
    samples, report = load_samples(path, tools)
    assert len(samples) == 2 and report.skipped == 2
    assert report.counts["line_not_json"] == 1 and report.counts["skipped_no_instruction"] == 1
    assert len(load_samples(path, tools, limit=1)[0]) == 1
    d = report.to_dict()
    assert d["samples"] == 2 and d["samples_touched"] >= 1
    # skip counts file lines: after the first two, one bad line (no instruction) and the second good sample remain
    skipped_samples, skipped_report = load_samples(path, tools, skip=2)
    assert len(skipped_samples) == 1 and skipped_report.skipped == 1
    assert "line_not_json" not in skipped_report.counts  # line 2, left out
    assert skipped_report.examples["skipped_no_instruction"] == ["2"]
    with pytest.raises(ConfigError):
        load_samples(path, tools, skip=5)


def test_load_samples_errors_are_actionable(tmp_path, tools):
    with pytest.raises(ConfigError):
        load_samples(tmp_path / "missing.jsonl", tools)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ConfigError):
        load_samples(tmp_path / "empty.jsonl", tools)


def test_normalize_records_without_tool_list():
    samples, report = normalize_records([rec([{"task": "Web_Search", "arguments": ["a"]}])], None)
    assert [n.task for n in samples[0].nodes] == ["Web Search"]
    assert report.samples == 1


def test_one_based_references_shifted_for_strict_gold_when_links_confirm(tools):
    nodes = [{"task": "Image-to-Text", "arguments": ["example.jpg"]},
             {"task": "Translation", "arguments": ["<node-1>"]},
             {"task": "Summarization", "arguments": ["Text: <node-2>"]}]
    links = [{"source": "Image-to-Text", "target": "Translation"},
             {"source": "Translation", "target": "Summarization"}]
    s, r = norm(rec(nodes, links), tools)
    assert args(s) == [["example.jpg"], ["<node-0>"], ["Text: <node-1>"]]
    assert [n.arguments for n in s.raw_nodes] == [["example.jpg"], ["<node-1>"], ["Text: <node-2>"]]
    assert r.counts["one_based_refs_shifted"] == 1


def test_self_reference_without_link_evidence_is_left_alone(tools):
    nodes = [{"task": "Image-to-Text", "arguments": ["example.jpg"]},
             {"task": "Translation", "arguments": ["<node-1>"]}]
    s, r = norm(rec(nodes, [{"source": "Summarization", "target": "Translation"}]), tools)
    assert args(s) == [["example.jpg"], ["<node-1>"]]
    s, r = norm(rec(nodes), tools)  # no links at all
    assert args(s) == [["example.jpg"], ["<node-1>"]]
    assert "one_based_refs_shifted" not in r.counts
