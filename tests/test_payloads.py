"""Typed expert outputs (payloads.py): facts round-trips, the one text formatter, the JARVIS encoders (the shapes
wire.jarvis_shape answers) and the drawers, checked on pixels of a generated image."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from hugginggpt.execution.outputs import check_result
from hugginggpt.experts.base import ExpertOutput, ExpertResult
from hugginggpt.experts.hub import wire
from hugginggpt.payloads import (
    Answer,
    Answers,
    Box,
    Boxes,
    Embedding,
    Entities,
    Labels,
    Masks,
    colors,
    scored,
)

GREY = (128, 128, 128)


def _grey(w: int = 160, h: int = 120) -> Image.Image:
    return Image.new("RGB", (w, h), GREY)


def _mask_png(size: tuple[int, int], box: tuple[int, int, int, int]) -> bytes:
    m = Image.new("L", size)
    ImageDraw.Draw(m).rectangle(box, fill=255)
    buf = io.BytesIO()
    m.save(buf, format="PNG")
    return buf.getvalue()


def _json(facts: dict) -> dict:
    return json.loads(json.dumps(facts))


# ----- the one "label (score)" formatter ------------------------------------------------------------------------
def test_scored_writes_label_and_two_decimals():
    assert scored("cat", 0.912) == "cat (0.91)"
    assert scored("none", 0) == "none (0.00)"


# ----- labels ------------------------------------------------------------------------------------------------------
def test_labels_from_rows_keep_the_hub_facts_and_say_the_best():
    rows = [{"label": "tabby", "score": 0.7}, {"label": "tiger", "score": 0.2}]
    labels = Labels.of(rows)
    assert labels.text() == "tabby (0.70)"
    assert labels.facts() == {"label": "tabby", "scores": rows}
    assert labels.jarvis() == rows
    assert Labels.from_facts(labels.facts()) == labels


def test_labels_best_is_the_highest_score_whatever_the_order():
    labels = Labels.of([{"label": "x", "score": 0.2}, {"label": "y", "score": 0.8}])
    assert labels.text() == "y (0.80)" and labels.facts()["label"] == "y"


def test_labels_as_a_mapping_encode_as_jarvis_rows():
    labels = Labels.of({"b": 0.6667, "a": 0.3333})
    assert labels.facts() == {"label": "b", "scores": {"b": 0.6667, "a": 0.3333}}
    assert labels.jarvis() == [{"label": "b", "score": 0.6667}, {"label": "a", "score": 0.3333}]


def test_labels_under_the_labels_key_list_every_label_and_name_no_best():
    rows = [{"label": "tabby cat", "score": 0.62}, {"label": "lynx", "score": 0.1}]
    labels = Labels.of(rows, key="labels", show=None)
    assert labels.text() == "tabby cat (0.62), lynx (0.10)"
    assert labels.facts() == {"labels": rows}
    assert Labels.from_facts({"labels": rows}).text() == labels.text()


def test_labels_that_are_not_a_ranking_are_none():
    assert Labels.from_facts({"labels": ["speech", "noise"]}) is None
    assert Labels.from_facts({"scores": 0.5}) is None
    assert Labels.from_facts({}) is None
    assert Labels.of([]).text() == "no label returned" and Labels.of([]).facts() == {"scores": []}


# ----- boxes -------------------------------------------------------------------------------------------------------
_OBJECTS = [{"label": "cat", "score": 0.912, "box": {"xmin": 10, "ymin": 20, "xmax": 60, "ymax": 80}},
            {"label": "dog", "score": 0.61, "box": {"xmin": 80, "ymin": 30, "xmax": 150, "ymax": 110}}]


def test_boxes_text_facts_and_jarvis():
    boxes = Boxes.of(_OBJECTS)
    assert boxes.text() == "cat (0.91), dog (0.61)"
    assert boxes.facts() == {"objects": _OBJECTS}
    assert boxes.jarvis() == _OBJECTS
    assert Boxes.of([], empty="no objects found above 0.5").text() == "no objects found above 0.5"


def test_boxes_of_a_detector_that_knows_its_labels_round_scores_and_say_the_classes():
    boxes = Boxes((Box("face", 0.93123456, {"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}, {"source": "mp"}),),
                  known=("face", "person"), digits=4)
    facts = boxes.facts()
    assert facts == {"objects": [{"label": "face", "score": 0.9312, "box": {"xmin": 1, "ymin": 2, "xmax": 3,
                                                                               "ymax": 4}, "source": "mp"}],
                     "classes_supported": ["face", "person"]}
    back = Boxes.from_facts(_json(facts))
    assert back is not None and back.known == ("face", "person") and back.labels() == ["face"]
    assert back.facts() == facts


def test_boxes_without_objects_are_none():
    assert Boxes.from_facts({"scores": {}}) is None
    assert Boxes.from_facts({"objects": "nope"}) is None


def test_jarvis_draw_outlines_each_box_in_its_labels_colour():
    image = _grey()
    drawn = Boxes.of(_OBJECTS).draw(image)
    cat, dog = colors(2)
    assert drawn.getpixel((10, 50)) == cat and drawn.getpixel((35, 80)) == cat  # left and bottom edges
    assert drawn.getpixel((150, 70)) == dog
    assert drawn.getpixel((35, 50)) == GREY  # inside the box: untouched
    assert drawn.getpixel((5, 115)) == GREY  # outside every box
    assert image.getpixel((10, 50)) == GREY  # the input is not drawn on


def test_a_box_without_corners_is_not_drawn():
    image = _grey()
    drawn = Boxes.of([{"label": "x", "score": 0.2, "box": {}}]).draw(image)
    assert drawn.tobytes() == image.tobytes()


def test_captioned_draw_uses_the_palette_and_a_filled_tag():
    palette = {"face": (255, 64, 64)}
    boxes = Boxes.of([{"label": "face", "score": 0.9, "box": {"xmin": 40, "ymin": 60, "xmax": 120, "ymax": 110}},
                      {"label": "other", "score": 0.5, "box": {"xmin": 2, "ymin": 2, "xmax": 30, "ymax": 50}}])
    drawn = boxes.draw(_grey(), palette=palette)
    assert drawn.getpixel((40, 90)) == (255, 64, 64)  # left edge
    assert drawn.getpixel((2, 40)) == (255, 200, 0)  # a label outside the palette: the default colour
    assert drawn.getpixel((80, 100)) == GREY  # inside, below the caption
    # the caption tag sits above the box, filled with the colour and written in white
    tag = [drawn.getpixel((x, y)) for x in range(40, 80) for y in range(40, 60)]
    assert (255, 64, 64) in tag and (255, 255, 255) in tag


# ----- masks -------------------------------------------------------------------------------------------------------
def test_masks_measure_area_draw_inside_only_and_keep_the_facts_keys():
    image = _grey(100, 100)
    top = _mask_png((50, 50), (0, 0, 49, 24))  # the top half, at half the image's size
    masks = Masks.measure(image.size, [("sky", top, None)])
    assert masks.facts() == {"segments": [{"label": "sky", "area": 0.5}]}
    assert masks.text() == "sky (50% of the image)"
    drawn = masks.draw(image)
    tint = tuple(int(0.45 * g + 0.55 * c) for g, c in zip(GREY, colors(1)[0], strict=True))
    assert all(abs(a - b) <= 1 for a, b in zip(drawn.getpixel((50, 10)), tint, strict=True))
    assert drawn.getpixel((50, 90)) == GREY
    assert Masks.from_facts(_json(masks.facts())).facts() == masks.facts()


def test_masks_with_scores_write_them_and_pil_masks_work():
    mask = Image.new("L", (10, 10), 255)
    masks = Masks.measure((10, 10), [("road", mask, 0.8)], scored=True)
    assert masks.facts() == {"segments": [{"label": "road", "score": 0.8, "area": 1.0}]}
    assert masks.jarvis() == masks.facts()["segments"]
    assert Masks.measure((10, 10), []).text() == "no segments found"


# ----- answers and entities ----------------------------------------------------------------------------------------
def test_answer_and_answers_encode_the_jarvis_shapes():
    answer = Answer("Paris", 0.5, (1, 6))
    assert answer.facts() == {"score": 0.5, "start": 1, "end": 6}
    assert answer.jarvis() == {"answer": "Paris", "score": 0.5, "start": 1, "end": 6}
    assert Answer("x", 0.7).facts() == {"score": 0.7}  # no span: no start/end keys
    assert Answer.from_facts({"score": 0.7}, "x").jarvis() == {"answer": "x", "score": 0.7, "start": None,
                                                                "end": None}
    rows = ({"answer": "red", "score": 0.9}, {"answer": "blue", "score": 0.05})
    assert Answers(rows).text() == "red" and Answers(()).text() == "no answer found"
    assert Answers.from_facts({"score": 0.4}, "red").jarvis() == [{"answer": "red", "score": 0.4}]


def test_entities_keep_the_key_their_group_came_under():
    jarvis_rows = [{"entity_group": "PER", "word": "Ann", "score": 0.9, "start": 0, "end": 3}]
    entities = Entities.of(jarvis_rows)
    assert entities.text() == "Ann: PER"
    assert entities.facts() == {"entities": jarvis_rows}
    hub = Entities.of([{"entity_group": "LOC", "word": "Paris", "score": 0.99}], group_key="label")
    assert hub.facts() == {"entities": [{"word": "Paris", "label": "LOC", "score": 0.99}]}
    spacy = [{"text": "Paris", "label": "GPE", "start": 0, "end": 5}]
    assert Entities.from_facts({"entities": spacy}).jarvis() == spacy
    assert Entities.of([]).text() == "no entities found"


def test_embedding_text_is_json_and_facts_say_its_size():
    vec = Embedding.of([0.1234567, -1, 2.5])
    assert vec.text() == "[0.123457, -1.0, 2.5]" and vec.facts() == {"dim": 3}
    assert Embedding.from_text(vec.text()) == vec


# ----- ExpertResult.of and the wire ------------------------------------------------------------------------------
def test_expert_result_of_builds_outputs_and_facts_from_the_payload():
    boxes = Boxes.of(_OBJECTS)
    picture = ExpertOutput("image", data=b"\x89PNG", ext=".png")
    result = ExpertResult.of(boxes, picture, asked="cats")
    assert [o.kind for o in result.outputs] == ["text", "image"]
    assert result.outputs[0].text == "cat (0.91), dog (0.61)"
    assert result.data == {"objects": _OBJECTS, "asked": "cats"} and result.payload is boxes
    first = ExpertResult.of(boxes, picture, media_first=True, text="own words")
    assert [o.kind for o in first.outputs] == ["image", "text"] and first.outputs[1].text == "own words"
    assert ExpertResult.of_text("x", a=1) == ExpertResult([ExpertOutput("text", text="x")], {"a": 1})


def test_check_result_still_checks_facts_as_json():
    _, facts = check_result(ExpertResult.of(Labels.of({"a": 0.5})), "m")
    assert facts == {"label": "a", "scores": {"a": 0.5}}


@pytest.mark.parametrize(("task", "payload"), [
    ("object-detection", Boxes.of(_OBJECTS)),
    ("image-classification", Labels.of([{"label": "tabby", "score": 0.7}])),
    ("zero-shot-classification", Labels.of({"a": 0.6, "b": 0.4})),
    ("token-classification", Entities.of([{"word": "Ann", "label": "PER", "score": 0.9}])),
    ("visual-question-answering", Answers(({"answer": "red", "score": 0.9},))),
    ("question-answering", Answer("Paris", 0.5, (1, 6))),
])
def test_the_wire_answers_what_the_payload_encodes(task, payload):
    result = ExpertResult.of(payload)
    assert wire.jarvis_shape(task, result, {}) == payload.jarvis()
    # the same from the facts alone, as a result that crossed a process boundary
    crossed = wire.decode_result(_json(wire.encode_result(result)))
    assert crossed.payload is None and wire.jarvis_shape(task, crossed, {}) == payload.jarvis()


# ----- property-based round-trips ------------------------------------------------------------------------------
_label = st.text(min_size=1, max_size=12)
_score = st.floats(min_value=0, max_value=1, allow_nan=False)
_coord = st.integers(min_value=0, max_value=4000)
_box = st.builds(lambda a, b, c, d: {"xmin": a, "ymin": b, "xmax": c, "ymax": d}, _coord, _coord, _coord, _coord)
_object = st.fixed_dictionaries({"label": _label, "score": _score, "box": _box})


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_object, max_size=8), known=st.none() | st.lists(_label, max_size=4),
       digits=st.none() | st.integers(min_value=1, max_value=6))
def test_any_boxes_round_trip_through_facts_and_json(rows, known, digits):
    boxes = Boxes.of(rows, known=None if known is None else tuple(known), digits=digits)
    facts = boxes.facts()
    back = Boxes.from_facts(_json(facts))
    assert back is not None and back.facts() == facts and back.text() == Boxes.of(facts["objects"]).text()
    assert back.known == boxes.known and len(back.items) == len(rows)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({"label": _label, "score": _score}), max_size=8),
       key=st.sampled_from(["scores", "labels"]))
def test_any_label_rows_round_trip_through_facts_and_json(rows, key):
    labels = Labels.of(rows, key=key)
    facts = labels.facts()
    back = Labels.from_facts(_json(facts))
    assert back is not None and back.facts() == facts and back.jarvis() == rows
    if rows and key == "scores":
        assert back.text() == labels.text() == scored(facts["label"], max(r["score"] for r in rows))


@settings(max_examples=60, deadline=None)
@given(scores=st.dictionaries(_label, _score, min_size=1, max_size=8))
def test_any_label_mapping_round_trips_through_facts_and_json(scores):
    labels = Labels.of(scores)
    back = Labels.from_facts(_json(labels.facts()))
    assert back == labels and back.jarvis() == [{"label": k, "score": v} for k, v in scores.items()]


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(_label, _score, _score), max_size=6), with_score=st.booleans())
def test_any_segments_round_trip_through_facts_and_json(rows, with_score):
    segments = [{"label": label, **({"score": score} if with_score else {}), "area": area}
                for label, area, score in rows]
    masks = Masks.from_facts(_json({"segments": segments}))
    assert masks is not None and masks.facts() == {"segments": segments}
    assert Masks.from_facts(_json(masks.facts())) == masks
