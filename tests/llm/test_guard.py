"""The answer guard on crafted texts: loops, answers cut at the token limit, claims of media or files that do not
exist, imitated task reports; and the guard in the LLM text expert and the LLM responder (with a scripted LLM)."""

from __future__ import annotations

import pytest

from hugginggpt.errors import ExpertError
from hugginggpt.experts.llm_expert import LLMTaskExpert
from hugginggpt.guard import CUT_AT_LIMIT, REPEATED, claimed_media, guard_text, repetition_start
from llm_doubles import ScriptedLLM


@pytest.mark.parametrize("text, kept", [
    ("A cat is a cat. A cat is a cat.", "A cat is a cat."),
    ("Sure! A cat is a cat. A cat is a cat. A cat is a cat.", "Sure! A cat is a cat."),
    ("ha ha ha ha ha ha ha ha", "ha"),
    ("the cat and the dog and the cat and the dog and the cat and the dog and", "the cat and the dog and"),
    ("Paris is the capital.\nParis is the capital.\nParis is the capital.", "Paris is the capital."),
])
def test_a_loop_is_stopped_after_its_first_saying(text: str, kept: str) -> None:
    report = guard_text(text)
    assert report.text == kept and report.problems == [REPEATED]


@pytest.mark.parametrize("text", [
    "Why did the cat sit on the computer? To keep an eye on the mouse!",
    "Yes. Yes. I am sure.",  # short sentences said twice are not a loop worth cutting
    "One, two, three. Four, five, six. Seven.",
])
def test_clean_texts_pass_unchanged(text: str) -> None:
    report = guard_text(text, finish_reason="stop")
    assert report.text == text and not report.tripped and repetition_start(text) is None


def test_an_answer_cut_at_the_limit_ends_at_its_last_full_sentence() -> None:
    report = guard_text("Once upon a time there was a dog. It ran on the grass until the", finish_reason="length")
    assert report.text == "Once upon a time there was a dog." and report.problems == [CUT_AT_LIMIT]


def test_claims_of_media_that_were_not_made_are_removed() -> None:
    text = "Here's a video and image of a boy running. He runs across the field."
    report = guard_text(text)
    assert report.text == "He runs across the field."
    assert report.problems == ["claimed an image and a video that were not made"]
    # the same sentence is fine when both were made
    assert not guard_text(text, media_made={"image", "video"}).tripped
    assert claimed_media("I have generated an audio file for you.") == {"audio", "file"}
    assert claimed_media("The photo shows a red bus.") == set()  # describing is not claiming
    # a text about a medium is not a claim that one was made
    assert claimed_media("Here is a summary of the audio recording: the museum opens at nine.") == set()
    assert claimed_media("Here you go: a new drawing of a cat.") == {"image"}


def test_an_imitated_task_report_is_removed_outside_a_run() -> None:
    copied = ('I split your request into 1 task(s) and ran them:\n'
              '0. text-to-speech with hugginggpt/composite-captioner: "A photo of a cat."\n'
              'Files produced:\n  - audio: /ws/artifacts/abc.wav')
    report = guard_text(copied)
    assert report.text == "" and "reported tasks that did not run" in report.problems
    assert guard_text(copied, tasks_ran=True, media_made={"audio"}).text.startswith("I split")


def test_llm_text_expert_returns_the_guarded_text() -> None:
    llm = ScriptedLLM("A cat is a cat. A cat is a cat. A cat is a cat.", capable=False)
    result = LLMTaskExpert(llm, "text-generation", "tell me a joke about cats").run({"text": "a joke about cats"})
    assert result.outputs[0].text == "A cat is a cat." and result.data["guard"] == [REPEATED]


def test_llm_text_expert_fails_when_nothing_usable_is_left() -> None:
    llm = ScriptedLLM("Here is the image of a cat you asked for.", capable=False)
    with pytest.raises(ExpertError, match="no usable text-generation text"):
        LLMTaskExpert(llm, "text-generation").run({"text": "a cat"})


def test_translation_prompt_names_the_planned_target_language() -> None:
    llm = ScriptedLLM("Guten Morgen, alle zusammen.", "Bonjour tout le monde.")
    LLMTaskExpert(llm, "translation", "translate this for the Berlin office").run(
        {"text": "Good morning, everyone.", "language": "German"})
    LLMTaskExpert(llm, "translation", "translate 'hello everyone' to French").run({"text": "hello everyone"})
    first, second = (c["messages"][-1]["content"] for c in llm.calls)
    assert first.startswith("Translate this text into German.")
    assert second.startswith("Translate this text as the request asks (default: into English).")
    assert "to French" in second  # without a planned language, the request says where to


def test_writing_from_an_earlier_output_gets_the_request_with_it() -> None:
    """"caption x.jpg, then turn that caption into a catchy tweet": the writing step's text is the caption, so the
    prompt carries the request that says what to write; a text in the request's own words is the prompt itself."""
    llm = ScriptedLLM("Striped and proud: meet the office cat!", "Why did the cat sit on the keyboard? To type.")
    request = "caption cat.jpg, then turn that caption into a catchy tweet"
    LLMTaskExpert(llm, "text-generation", request).run({"text": "A photo of a cat with a striped coat."})
    LLMTaskExpert(llm, "text-generation", "tell me a joke about cats").run({"text": "a joke about cats"})
    chained, own = (c["messages"][-1]["content"] for c in llm.calls)
    assert chained.startswith(f"Request: {request}") and chained.endswith("A photo of a cat with a striped coat.")
    assert own == "a joke about cats"


def test_polished_summary_keeps_the_extract_when_the_rewrite_loops() -> None:
    from hugginggpt.experts.llm_expert import PolishedSummarizer

    text = ("The museum opens at nine on Saturday. Tickets cost five euros at the door. "
            "Children under twelve enter for free. The café closes at four.")
    llm = ScriptedLLM("The museum opens at nine. The museum opens at nine. The museum opens at nine.", capable=False)
    result = PolishedSummarizer(llm).run({"text": text})
    assert result.data["polished"] is False and result.data["guard"] == [REPEATED]
    assert result.outputs[0].text == result.data["extractive"]
