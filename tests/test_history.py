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
from hugginggpt.history import check_history, known_resources, text_outputs, unknown_citations
from hugginggpt.media import PATH_RE, find_paths

_PATH_CHARS = re.compile(r"[\w/.~-]")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab1_./~- \né\tZ:", max_size=60))
def test_every_path_found_is_a_whole_file_name(text):
    """What ``find_paths`` returns: each a run of path characters that starts where such a run starts and ends in
    a ``.`` after a word character and a 2-5 character extension that no word character or ``/`` follows."""
    for m in PATH_RE.finditer(text):
        path, a, b = m.group(), m.start(), m.end()
        assert a == 0 or not _PATH_CHARS.match(text[a - 1])
        assert b == len(text) or not re.match(r"[\w/]", text[b])
        stem, dot, ext = path.rpartition(".")
        assert dot and 2 <= len(ext) <= 5 and ext.isascii() and ext.isalnum() and re.match(r"\w", stem[-1])
    assert find_paths(text) == [m.group() for m in PATH_RE.finditer(text)]


@pytest.mark.parametrize("text, paths", [
    ("describe examples/cat.png and ~/a.b/c.jpeg, then x.tar.gz.", ["examples/cat.png", "~/a.b/c.jpeg", "x.tar.gz"]),
    ("no files here. none.", []),
    # the history's old finder took these for files; the planner's never did
    (".png ..png a.pngxyz a.png_b", []), ("see http://host/pics/a.png", []),
    # the grounding's old finder missed these (after ``*`` or ``:``, a bare name); the planner's missed ``//``
    ("**/ws/a.png** and file:/ws/b.wav", ["/ws/a.png", "/ws/b.wav"]), ("(poster.png)", ["poster.png"]),
    ("saved in /ws//artifacts/x.wav.", ["/ws//artifacts/x.wav"]),
    ("'../up/a.jpg' `./b.mp3` [c/d.webp]", ["../up/a.jpg", "./b.mp3", "c/d.webp"]),
    ("photo.png, photo.png. photo.png! ümlaut/ß.gif", ["photo.png", "photo.png", "photo.png", "ümlaut/ß.gif"]),
])
def test_find_paths_examples(text, paths):
    assert find_paths(text) == paths


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
    assert text_outputs(history) == ["a red bus"]
    assert text_outputs(history[-1:]) == []  # only a speech answer: nothing to read, never the hash
    llm_written = [{"role": "assistant", "content": "It is a bus.\n\nFiles produced:\n- audio: /ws/artifacts/x.wav"}]
    assert text_outputs(llm_written) == ["It is a bus."]


def test_a_file_the_previous_answer_cites_that_is_not_there_is_said_to_be_unused(tmp_path):
    """An answer citing an artifact this workspace does not hold (written elsewhere, deleted, invented): the file is
    never an input, and the next answer says so rather than answering as if it were there."""
    store = ArtifactStore(tmp_path / "ws")
    ghost = str(tmp_path / "ws" / "artifacts" / ("cd" * 32 + ".png"))
    history = [{"role": "user", "content": "make a picture, then show me examples/cat.png"},
               {"role": "assistant", "content": f"Here it is: {ghost}, and examples/cat.png, and /etc/passwd"}]
    assert unknown_citations(history, store) == [ghost]  # the user's own file and a non-media path are not listed
    assert unknown_citations(history[:1], store) == []
    kept = store.root / ("ab" * 32 + ".png")
    kept.write_bytes(b"\x89PNG")  # a file the store holds is no unknown citation
    assert unknown_citations([{"role": "assistant", "content": f"Made {kept}."}], store) == []
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path / "ws", allowed_dirs=[tmp_path]))
    result = agent.run("what is the sentiment of: I love it", history=history)
    assert result.status == "succeeded"
    assert any(n.startswith("not used: ") and ghost in n for n in result.plan_notes)
    assert f"The previous answer cites {ghost}, but no such file is in this workspace" in result.answer
