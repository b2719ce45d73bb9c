"""Which task prefix a T5-style model gets: a translation into a named language takes that language's prefix, and a
language the model has no prefix for is refused (never silently translated into another one)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hugginggpt.errors import ExpertInputError
from hugginggpt.experts.hub.text_tasks import _prefix

# As in t5-small's config.json.
T5 = SimpleNamespace(config=SimpleNamespace(task_specific_params={
    "summarization": {"prefix": "summarize: "},
    "translation_en_to_de": {"prefix": "translate English to German: "},
    "translation_en_to_fr": {"prefix": "translate English to French: "},
    "translation_en_to_ro": {"prefix": "translate English to Romanian: "},
}))
PLAIN = SimpleNamespace(config=SimpleNamespace())  # a Marian / BART model: no task prefixes


def test_the_planned_language_picks_the_prefix():
    assert _prefix(T5, "translation", "French") == "translate English to French: "
    assert _prefix(T5, "translation", "german") == "translate English to German: "
    assert _prefix(T5, "translation") == "translate English to German: "  # no language planned: the first one
    assert _prefix(T5, "summarization", "French") == "summarize: "


def test_a_language_the_model_cannot_target_is_refused_naming_its_targets():
    with pytest.raises(ExpertInputError, match=r"does not translate into Japanese.*de, fr, ro"):
        _prefix(T5, "translation", "Japanese")


def test_a_model_without_prefixes_gets_none():
    assert _prefix(PLAIN, "translation", "French") == ""
