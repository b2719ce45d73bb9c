"""Plan validation and repair: the JARVIS data model's rules."""

from __future__ import annotations

import pytest

from hugginggpt.errors import PlanTooLarge
from hugginggpt.plan_schema import DEFAULT_MAX_PLAN_TASKS
from hugginggpt.planning import Plan, repair_plan, validate_plan
from hugginggpt.planning.limits import MAX_PLAN_DEPTH
from hugginggpt.planning.llm_planner import read_plan
from hugginggpt.tasks import default_registry

REG = default_registry()


def codes(raw) -> list[str]:
    plan, _ = repair_plan(raw, REG)
    return [i.code for i in validate_plan(plan, REG)]


def test_registry_covers_jarvis_tasks():
    jarvis = """token-classification text2text-generation summarization translation question-answering conversational
    text-generation sentence-similarity tabular-classification object-detection image-classification image-to-image
    image-to-text text-to-image text-to-video visual-question-answering document-question-answering
    image-segmentation depth-estimation text-to-speech automatic-speech-recognition audio-to-audio
    audio-classification canny-control hed-control mlsd-control normal-control openpose-control canny-text-to-image
    depth-text-to-image hed-text-to-image mlsd-text-to-image normal-text-to-image openpose-text-to-image
    seg-text-to-image""".split()
    assert len(jarvis) == 35
    assert all(t in REG for t in jarvis)
    assert REG.canonical("Image Editing") == "image-to-image"
    assert REG.canonical("Automatic Speech Recognition") == "automatic-speech-recognition"


def test_valid_chain_passes():
    raw = [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "a.jpg"}},
           {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}}]
    assert codes(raw) == []


def test_cycle_is_reported():
    raw = [{"task": "summarization", "id": 0, "args": {"text": "<GENERATED>-1"}},
           {"task": "translation", "id": 1, "args": {"text": "<GENERATED>-0"}}]
    assert "cycle" in codes(raw)


def test_reference_to_missing_task():
    raw = [{"task": "text-to-speech", "id": 0, "args": {"text": "<GENERATED>-7"}}]
    assert codes(raw) == ["bad_ref"]


def test_self_reference():
    raw = [{"task": "summarization", "id": 0, "args": {"text": "<GENERATED>-0"}}]
    assert "self_ref" in codes(raw)


def test_unknown_task_with_suggestion():
    plan, _ = repair_plan([{"task": "image-captioning-xl", "id": 0, "args": {"image": "a.png"}}], REG)
    issues = validate_plan(plan, REG)
    assert [i.code for i in issues] == ["unknown_task"]


def test_wrong_slot_type_literal_and_reference():
    # text where an image is needed
    assert "wrong_slot_type" in codes([{"task": "image-classification", "id": 0, "args": {"image": "a cat"}}])
    # an audio file where an image is needed
    assert "wrong_slot_type" in codes([{"task": "image-classification", "id": 0, "args": {"image": "a.wav"}}])
    # text output feeding an image slot
    raw = [{"task": "summarization", "id": 0, "args": {"text": "long text"}},
           {"task": "image-classification", "id": 1, "args": {"image": "<GENERATED>-0"}}]
    assert "type_mismatch" in codes(raw)


def test_missing_required_slot():
    assert "missing_slot" in codes([{"task": "question-answering", "id": 0, "args": {"text": "who?"}}])


def test_repair_recomputes_dep_and_maps_names_and_slots():
    raw = {"tasks": [
        {"task": "Image-to-Text", "id": "0", "dep": [3], "args": {"img": "photo.jpg"}},
        {"task": "Text-to-Speech", "id": 1, "dep": [-1], "args": ["<GENERATED>-0"]},
    ]}
    plan, notes = repair_plan(raw, REG)
    assert plan.to_jarvis() == [
        {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "photo.jpg"}},
        {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
    ]
    assert validate_plan(plan, REG) == []
    assert any("dep" in n for n in notes)


def test_unfold_multi_resource_argument():
    raw = [{"task": "text-to-image", "id": 0, "args": {"text": "a cat"}},
           {"task": "text-to-image", "id": 1, "args": {"text": "a dog"}},
           {"task": "image-classification", "id": 2, "args": {"image": "<GENERATED>-0,<GENERATED>-1"}}]
    plan, notes = repair_plan(raw, REG)
    cls = [t for t in plan.tasks if t.task == "image-classification"]
    assert [t.args["image"] for t in cls] == ["<GENERATED>-0", "<GENERATED>-1"]
    assert [t.dep for t in cls] == [[0], [1]]
    assert len({t.id for t in plan.tasks}) == 4
    assert validate_plan(plan, REG) == []
    assert any("unfold" in n for n in notes)


def test_garbage_items_are_dropped_with_a_note():
    plan, notes = repair_plan([42, "x", {"no": "task"}], REG)
    assert plan.tasks == []
    assert len(notes) == 3


def test_taskbench_codec_uses_node_indices():
    plan, _ = repair_plan([{"task": "automatic-speech-recognition", "id": 3, "args": {"audio": "a.wav"}},
                           {"task": "summarization", "id": 5, "args": {"text": "<GENERATED>-3"}}], REG)
    tb = plan.to_taskbench()
    assert tb["task_nodes"] == [{"task": "automatic-speech-recognition", "arguments": ["a.wav"]},
                                {"task": "summarization", "arguments": ["<node-0>"]}]
    assert tb["task_links"] == [{"source": "automatic-speech-recognition", "target": "summarization"}]


@pytest.mark.parametrize("value", ["<GENERATED>-0 and more", "see <GENERATED>-0"])
def test_reference_mixed_with_text_is_rejected(value):
    raw = [{"task": "summarization", "id": 0, "args": {"text": "abc"}},
           {"task": "translation", "id": 1, "args": {"text": value}}]
    plan, _ = repair_plan(raw, REG)
    assert "bad_ref" in [i.code for i in validate_plan(plan, REG)]


def test_plan_roundtrip_jarvis():
    data = [{"task": "summarization", "id": 0, "dep": [-1], "args": {"text": "abc"}}]
    assert Plan.from_jarvis(data).to_jarvis() == data


# -- hostile input: each of these once escaped as a raw exception (RecursionError, TypeError, OverflowError) -------


def _nested(depth: int, leaf: object = "x") -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_args_nested_900_deep_is_plan_too_large_not_recursion_error():
    # Was: RecursionError in copy.deepcopy.
    with pytest.raises(PlanTooLarge, match="nested more than 16 levels"):
        repair_plan([{"task": "translation", "id": 0, "args": {"text": _nested(900)}}], REG)


def test_nesting_up_to_the_limit_is_repaired():
    raw = {"tasks": [{"task": "translation", "id": 0, "args": {"text": _nested(MAX_PLAN_DEPTH - 4, "hi")}}]}
    plan, _ = repair_plan(raw, REG)
    assert plan.tasks[0].args == {"text": "hi"}


def test_self_containing_list_is_rejected():
    loop: list = []
    loop.append(loop)
    with pytest.raises(PlanTooLarge):
        repair_plan([{"task": "translation", "id": 0, "args": {"text": loop}}], REG)


def test_dep_with_mixed_types_is_recomputed():
    # Was: TypeError ('<' not supported between 'int' and 'str') while comparing the given dep.
    raw = [{"task": "summarization", "id": 0, "dep": ["a", 1, None, -1], "args": {"text": "abc"}},
           {"task": "translation", "id": 1, "dep": ["0"], "args": {"text": "<GENERATED>-0"}}]
    plan, notes = repair_plan(raw, REG)
    assert [t.dep for t in plan.tasks] == [[-1], [0]]
    assert validate_plan(plan, REG) == []
    assert any("task 0: dep" in n for n in notes)


@pytest.mark.parametrize("bad_id", [float("inf"), float("-inf"), float("nan"), 1e400, -3, 2**40, True, 2.5, "x",
                                    "٣", None, [1], {"a": 1}])
def test_ids_that_are_no_task_id_are_replaced_by_position(bad_id):
    # Was: OverflowError (cannot convert float infinity to integer) for 1e400 and +-Infinity.
    raw = [{"task": "summarization", "id": 0, "args": {"text": "abc"}},
           {"task": "translation", "id": bad_id, "args": {"text": "<GENERATED>-0"}}]
    plan, notes = repair_plan(raw, REG)
    assert [t.id for t in plan.tasks] == [0, 1]
    assert validate_plan(plan, REG) == []
    assert any("replaced by 1" in n for n in notes)


def test_infinite_id_in_json_text():
    for literal in ("1e400", "Infinity", "-Infinity", "NaN"):
        plan, _ = read_plan('[{"task": "translation", "id": ' + literal + ', "args": {"text": "hi"}}]', REG)
        assert [t.id for t in plan.tasks] == [0], literal


def test_thousand_task_chain_listed_last_first_is_ordered_iteratively():
    # Was: RecursionError in the cycle check (and in topological order) once the size cap is raised.
    chain = [{"task": "summarization", "id": i, "args": {"text": f"<GENERATED>-{i - 1}" if i else "t"}}
             for i in range(1000)][::-1]
    plan, _ = repair_plan(chain, REG, max_tasks=1000)
    assert validate_plan(plan, REG) == []
    assert [t.id for t in plan.topological()] == list(range(1000))
    cycle = [{"task": "summarization", "id": i, "args": {"text": f"<GENERATED>-{(i + 1) % 1000}"}} for i in range(1000)]
    plan, _ = repair_plan(cycle, REG, max_tasks=1000)
    issues = [i for i in validate_plan(plan, REG) if i.code == "cycle"]
    assert len(issues) == 1 and "(1000 tasks)" in issues[0].message


def test_plan_over_max_tasks_is_plan_too_large_naming_the_limit():
    raw = [{"task": "summarization", "id": i, "args": {"text": "t"}} for i in range(DEFAULT_MAX_PLAN_TASKS + 1)]
    with pytest.raises(PlanTooLarge, match=f"65 tasks; the limit is {DEFAULT_MAX_PLAN_TASKS} \\(max_plan_tasks\\)"):
        repair_plan(raw, REG)
    plan, _ = repair_plan(raw[:DEFAULT_MAX_PLAN_TASKS], REG)
    assert len(plan.tasks) == DEFAULT_MAX_PLAN_TASKS
    with pytest.raises(PlanTooLarge, match="the limit is 3"):
        repair_plan(raw[:4], REG, max_tasks=3)


def test_unfolding_is_capped_before_anything_is_copied():
    # Was: 50,000 references unfolded into 50,001 tasks (2.7 s), which then ran.
    refs = ",".join(f"<GENERATED>-{i}" for i in range(50_000))
    raw = [{"task": "text-to-image", "id": 0, "args": {"text": "a cat"}},
           {"task": "image-classification", "id": 1, "args": {"image": refs}}]
    with pytest.raises(PlanTooLarge, match=r"Unfolding .* gives 50001 tasks; the limit is 64"):
        repair_plan(raw, REG)


def test_huge_numbers_and_references_do_not_overflow():
    with pytest.raises(PlanTooLarge, match="1000 digits"):
        repair_plan([{"task": "translation", "id": 0, "args": {"text": 10**5000}}], REG)
    plan, _ = repair_plan([{"task": "summarization", "id": 0, "args": {"text": "<GENERATED>-" + "9" * 5000}}], REG)
    assert [i.code for i in validate_plan(plan, REG)] == ["bad_ref"]


def test_lone_surrogates_and_control_characters():
    plan, _ = read_plan('[{"task": "translation", "id": 0, "args": {"text": "\\ud800 hi"}}]', REG)
    plan.tasks[0].args["text"].encode("utf-8")  # storable
    raw = [{"task": "image-classification", "id": 0, "args": {"image": "a\x00.png"}}]
    assert codes(raw) == ["bad_value"]


def test_non_string_task_name_is_unknown_task_not_a_validation_crash():
    assert codes([{"task": 5, "id": 0, "args": {"text": "hi"}}]) == ["unknown_task"]
    assert codes([{"task": "x" * 100_000, "id": 0, "args": {"text": "hi"}}]) == ["unknown_task"]
