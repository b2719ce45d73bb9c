"""Chat-history parsing on hostile input: linear-time path finding, bounded history, and "read it aloud" after a
speech answer reading text rather than the answer's template."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hugginggpt import HuggingGPT, HuggingGPTConfig
from hugginggpt.artifacts import ArtifactStore
from hugginggpt.errors import RequestTooLarge
from hugginggpt.history import check_history, file_tokens, known_resources, last_text_output

# The pattern path finding used to run (quadratic on long runs of word characters): the reference for equality.
_OLD_TOKEN = re.compile(r"[\w./~-]+\.[A-Za-z0-9]{2,5}")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab1_./~- \né\tZ", max_size=60))
def test_file_tokens_find_what_the_old_pattern_found(text):
    assert file_tokens(text) == _OLD_TOKEN.findall(text)


@pytest.mark.parametrize("text, tokens", [
    ("describe examples/cat.png and ~/a.b/c.jpeg, then x.tar.gz.", ["examples/cat.png", "~/a.b/c.jpeg", "x.tar.gz"]),
    ("no files here. none.", []), (".png ..png a.pngxyz", ["..png", "a.pngxy"]),
])
def test_file_tokens_examples(text, tokens):
    assert file_tokens(text) == tokens


def test_path_finding_is_linear_on_text_without_full_stops(tmp_path):
    """80 KB of "y" took 18 s with the old pattern (quadratic); 5 MB would have taken hours. The bound is loose
    on purpose (a shared, slow machine): only a super-linear parser can miss it."""
    store = ArtifactStore(tmp_path)
    t0 = time.perf_counter()
    assert known_resources([{"role": "user", "content": "y" * 5_000_000}], store) == []
    assert known_resources([{"role": "user", "content": ("y" * 999 + ".") * 5000}], store) == []
    assert time.perf_counter() - t0 < 10


def test_history_limits_name_the_setting():
    history = [{"role": "user", "content": "x" * 10}] * 3
    check_history(history, max_turns=3, max_chars=30)
    with pytest.raises(RequestTooLarge, match="max_history_turns") as exc:
        check_history(history, max_turns=2, max_chars=1000)
    assert exc.value.code == "request_too_large" and exc.value.hint
    with pytest.raises(RequestTooLarge, match="max_history_chars"):
        check_history(history, max_turns=10, max_chars=29)


def test_agent_refuses_an_oversized_history_as_a_named_error(tmp_path):
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path, allowed_dirs=[tmp_path], max_history_chars=1000,
                                        max_history_turns=5))
    result = agent.run("what is the sentiment of: great", history=[{"role": "user", "content": "y" * 1001}])
    assert result.status == "failed" and result.error is not None
    assert result.error.type == "RequestTooLarge" and "max_history_chars" in result.error.message
    result = agent.run("what is the sentiment of: great", history=[{"role": "user", "content": "hi"}] * 6)
    assert result.error is not None and "max_history_turns" in result.error.message


def test_read_it_aloud_after_a_speech_answer_reads_text_not_the_template():
    speech = ("I split your request into 1 task(s) and ran them:\n0. text-to-speech with hugginggpt/piper: audio at "
              "/ws/artifacts/" + "ab" * 32 + ".wav\nFiles produced:\n  - audio: /ws/artifacts/" + "ab" * 32 + ".wav")
    caption = ('I split your request into 2 task(s) and ran them:\n0. image-to-text with m/cap: "a red bus"\n'
               "1. text-to-speech with m/tts: audio at /ws/artifacts/" + "cd" * 32 + ".wav")
    history = [{"role": "user", "content": "describe a.png and read it aloud"},
               {"role": "assistant", "content": caption}, {"role": "user", "content": "now read it aloud"},
               {"role": "assistant", "content": speech}]
    assert last_text_output(history) == "a red bus"
    assert last_text_output(history[-1:]) is None  # only a speech answer: nothing to read, never the hash
    llm_written = [{"role": "assistant", "content": "It is a bus.\n\nFiles produced:\n- audio: /ws/artifacts/x.wav"}]
    assert last_text_output(llm_written) == "It is a bus."
