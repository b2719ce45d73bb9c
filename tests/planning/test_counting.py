"""The label a count asks the object detector for, in the detector's vocabulary."""

from __future__ import annotations

import pytest

from hugginggpt.planning.offline.counting import counted_label, label_of, singular
from hugginggpt.planning.offline.lexicon import default_lexicon
from hugginggpt.planning.offline.text import parse_request


@pytest.mark.parametrize(
    ("word", "expected"),
    [("zebras", "zebra"), ("puppies", "puppy"), ("benches", "bench"), ("boxes", "box"), ("glasses", "glass"),
     ("bus", "bus"), ("grass", "grass"), ("octopus", "octopus"), ("sheep", "sheep")],
)
def test_singular(word: str, expected: str) -> None:
    assert singular(word) == expected


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [("people", "person"), ("kids", "person"), ("women", "person"), ("red cars", "car"), ("zebras", "zebra"),
     ("cat faces", "cat face"), ("kittens", "cat"), ("teddy bears", "teddy bear"), ("knives", "knife"),
     ("mice", "mouse"), ("unicorns", "unicorn"), ("wine glasses", "wine glass"), ("buses", "bus"),
     ("objects", None), ("things", None), ("", None)],
)
def test_label_of(phrase: str, expected: str | None) -> None:
    assert label_of(phrase) == expected


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [("count the zebras in c.jpg", "zebra"),
     ("how many people are in x.jpg", "person"),
     ("How many red cars are parked in lot.png?", "car"),
     ("Please tell me the number of birds on the wire in it", "bird"),
     ("count all of the dogs", "dog"),
     ("how many objects in e1.jpg?", None),
     ("describe photo.jpg", None)],
)
def test_counted_label(request_text: str, expected: str | None) -> None:
    req = parse_request(request_text, default_lexicon().verbs)
    assert counted_label(req.masked, 0, len(req.masked)) == expected


def test_a_word_after_the_counted_thing_does_not_hide_it() -> None:
    from hugginggpt.planning.offline.counting import label_of

    assert label_of("dogs plz") == "dog"
    assert label_of("traffic lights pls") == "traffic light"
    assert label_of("objects plz") is None
    assert label_of("pangolins") == "pangolin"  # unknown to the detector: the answer says so
