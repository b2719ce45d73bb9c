"""Mending misspelt task words before planning (planning/offline/spelling.py), on the real dictionary."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hugginggpt.planning.offline.spelling import mend_spelling


def test_typos_of_task_words_are_mended_and_case_kept():
    assert mend_spelling("Plese discribe the foto of my garden, garden_may.jpg") == \
        "Please describe the photo of my garden, garden_may.jpg"
    assert mend_spelling("depht map of stairs.jpg") == "depth map of stairs.jpg"
    assert mend_spelling("vidoe of a puppy chasing bubbles") == "video of a puppy chasing bubbles"
    assert mend_spelling("transcirbe lecture.wav and sumarize it") == "transcribe lecture.wav and summarize it"


def test_real_words_quotes_and_file_names_are_left_alone():
    for text in ("Describe the photos, then summarise what was described",  # plurals, tenses, British spelling
                 "read 'I lvoe my dgo' aloud", 'say "discribe" please',  # the user's own text
                 "caption vidoe_clip.png and dephts/a.jpg",  # file names
                 "what does the graffiti on wal.jpg say"):
        assert mend_spelling(text) == text


def test_british_spellings_and_words_the_dictionary_lacks_are_kept():
    # "colours" is two edits from "contours", "intro" one from "into": neither is a typo of them.
    for text in ("the colours are washed out in rose.jpg", "a short video for my intro", "make a vlog thumbnail",
                 "summarise the centre's programme, then visualise it in my favourite colour"):
        assert mend_spelling(text) == text
    assert mend_spelling("read the summry back 2 me") == "read the summary back to me"
    assert mend_spelling("wat kinda music is it") == "what kind of music is it"


def test_an_ambiguous_typo_is_not_guessed():
    # "sond" is one edit from both "sound" and "song": left as typed. "phot" is one edit from "photo" only.
    assert mend_spelling("sond of rain") == "sond of rain"
    assert mend_spelling("phot of a cat") == "photo of a cat"
    # "countr" is "count" less a letter and "counter" plus one: not read as a count
    assert mend_spelling("my shop countr in shop.jpg") == "my shop countr in shop.jpg"


_quote = st.text(alphabet=st.sampled_from("abcdefghij klmnop"), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s)


@settings(max_examples=200, deadline=None)
@given(before=st.sampled_from(["plese read", "discribe", "say", "transcirbe then read"]), quoted=_quote,
       name=st.from_regex(r"[a-z]{3,8}_[a-z]{2,5}\.(?:jpg|wav|png)", fullmatch=True))
def test_quotes_and_file_names_survive_any_mending(before, quoted, name):
    text = f"{before} '{quoted}' from {name}"
    out = mend_spelling(text)
    assert f"'{quoted}'" in out and name in out
    assert len(re.findall(r"\w+", out)) == len(re.findall(r"\w+", text))  # words are replaced, never merged or split


def test_a_quoted_text_holding_a_link_keeps_its_typos():
    text = "Correct the grammar of this text: 'Thiz is an aweseme foto. See www.example.com/img/a.jpg.'"
    assert mend_spelling(text) == text
    assert mend_spelling("Translate 'Voici un document contenant des informations sur l'objet' please") == \
        "Translate 'Voici un document contenant des informations sur l'objet' please"


def test_pasted_prose_keeps_its_typos():
    # Prose pasted before "Summarize this." is the user's text, like a quote: only the instruction is mended.
    text = "Thiz artcle says that bees are vanishing from many farms across the whole country this year. Sumarize this."
    assert mend_spelling(text) == text.replace("Sumarize", "Summarize")


def test_wi_fi_stays_a_network():
    # "fi" is Jamaican shorthand for "for"; "wi fi" typed as two words is the network, not "wi for"
    assert mend_spelling("the wi fi code in sign.jpg") == "the wifi code in sign.jpg"
