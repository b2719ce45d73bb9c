"""Audio I/O shared by the audio experts: decode any audio file to float32 mono at a given rate, and encode WAV.

WAV/FLAC/OGG/MP3 are read with soundfile (libsndfile); anything else (m4a, aac, opus, the audio track of a video) is
decoded by the ffmpeg binary that ships inside ``imageio-ffmpeg``. Resampling is numpy-only (FFT, in padded blocks so
long files stay cheap), so no scipy/torchaudio is needed. ``speech_chunks`` splits text to speak into short chunks so
that text-to-speech memory does not grow with the length of the text.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import unicodedata
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...errors import ExpertInputError

log = logging.getLogger(__name__)

_BLOCK_S = 30  # resampling block length (seconds of input)
_PAD_S = 1  # context on each side of a block, trimmed after resampling so block edges do not ring


def load_audio(path: str | Path, sr: int = 16000) -> np.ndarray:
    """Decode ``path`` to a float32 mono signal at ``sr`` Hz, values in [-1, 1].

    Raises ``ExpertInputError`` when the file is missing, empty, or not decodable audio.
    """
    path = Path(path)
    if not path.is_file():
        raise ExpertInputError(f"Audio file {str(path)!r} does not exist.",
                               hint="Give an existing audio file (wav, flac, ogg, mp3, m4a...).")
    try:
        samples, file_sr = _read_soundfile(path)
    except ExpertInputError:
        samples, file_sr = _read_ffmpeg(path, sr), sr
    if samples.size == 0:
        raise ExpertInputError(f"Audio file {path.name!r} contains no samples.", hint="Give a non-empty recording.")
    return resample(samples, file_sr, sr)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise ExpertInputError(f"soundfile cannot read {path.name!r}: {exc}") from exc
    return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32), int(file_sr)


def _read_ffmpeg(path: Path, sr: int) -> np.ndarray:
    not_audio = ExpertInputError(f"{path.name!r} is not a readable audio file.",
                                 hint="Give a wav, flac, ogg, mp3 or m4a file (or a video with sound).")
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        log.info("no ffmpeg to decode %s: %s", path, exc)
        raise not_audio from exc
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sr), "-f", "f32le", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise not_audio from exc
    if proc.returncode != 0 or not proc.stdout:
        log.info("ffmpeg could not decode %s: %s", path, proc.stderr.decode(errors="replace")[-300:])
        raise not_audio
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def resample(samples: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Band-limited (FFT) resampling of a mono float32 signal, done in padded blocks to bound memory."""
    samples = np.asarray(samples, dtype=np.float32)
    if sr_from == sr_to or samples.size == 0:
        return samples
    ratio = sr_to / sr_from
    block, pad = _BLOCK_S * sr_from, _PAD_S * sr_from
    if samples.size <= block + 2 * pad:
        return _fft_resample(samples, max(1, round(samples.size * ratio)))
    out = []
    for start in range(0, samples.size, block):
        stop = min(start + block, samples.size)
        lo, hi = max(0, start - pad), min(samples.size, stop + pad)
        chunk = _fft_resample(samples[lo:hi], max(1, round((hi - lo) * ratio)))
        head = round((start - lo) * ratio)
        out.append(chunk[head: head + round((stop - start) * ratio)])
    return np.concatenate(out)


def _fft_resample(x: np.ndarray, n_out: int) -> np.ndarray:
    spectrum = np.fft.rfft(x.astype(np.float64))
    keep = n_out // 2 + 1
    if keep <= spectrum.size:
        spectrum = spectrum[:keep]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(keep - spectrum.size, dtype=spectrum.dtype)])
    return (np.fft.irfft(spectrum, n_out) * (n_out / x.size)).astype(np.float32)


def wav_bytes(samples: np.ndarray, sr: int) -> bytes:
    """16-bit PCM mono WAV of a float signal (clipped to [-1, 1])."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float32).ravel(), -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sr))
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


def dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (-inf for digital silence, floored at -120)."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return max(-120.0, 20.0 * np.log10(rms)) if rms > 0 else -120.0


# --- text-to-speech chunking ------------------------------------------------------------------------------------------
# Neural TTS (Piper's VITS) synthesizes one utterance per inference, and its memory grows with the utterance: about
# 1 MB per phoneme on CPU. espeak-ng ends a "sentence" only at ., ! or ?, so text without them (a list, a table of
# numbers) became one utterance of thousands of phonemes, and digits are the worst case: espeak reads "1234567" as
# "one million two hundred thirty-four thousand ..." (76 phonemes for 7 characters). espeak-ng also silently drops
# words from clauses longer than its internal buffer. Speaking text in short chunks bounds both.

MAX_CHUNK_COST = 240
"""Largest chunk handed to a synthesizer, in estimated phonemes (see ``speech_cost``)."""
MAX_DIGIT_RUN = 15
"""Longer digit runs are no number anyone reads as a cardinal ("twelve quintillion ..."): they are read in groups."""
DIGIT_GROUP = 3

_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’)\]»]*(?=\s|$)")
_CLAUSE_END = re.compile(r"[,;:—–]+[\"'”’)\]»]*(?=\s)")
_LONG_DIGITS = re.compile(rf"\d{{{MAX_DIGIT_RUN + 1},}}")
_QUIET = frozenset(" \t.,;:!?'\"()[]-‐–—…“”‘’«»")


def _char_cost(ch: str) -> int:
    """Estimated phonemes spoken for one character (measured with espeak-ng en-us; errs on the high side)."""
    if ch.isascii():
        if ch.isalpha() or ch in _QUIET:
            return 1
        if ch.isdigit():
            return 11  # "1234567": 76 phonemes
        return 10  # symbols are read by name: "*" is "asterisk", "=" is "equals"
    if ch.isdigit():
        return 11
    if ch.isalpha() and ord(ch) < 0x2E80:
        return 2  # accented Latin, Greek, Cyrillic...: letters spoken in words
    return 15 if ch not in _QUIET else 1  # CJK, emoji, other symbols: read one by one by name ("chinese letter ...")


def speech_cost(text: str) -> int:
    """Estimated number of phonemes ``text`` turns into: the unit chunk limits are expressed in."""
    return sum(_char_cost(ch) for ch in text)


def _group_digits(match: re.Match[str]) -> str:
    run = match.group(0)
    return " ".join(run[i: i + DIGIT_GROUP] for i in range(0, len(run), DIGIT_GROUP))


def _pieces(text: str, boundary: re.Pattern[str]) -> list[str]:
    """Split after every match of ``boundary`` (the punctuation stays with the text before it)."""
    out, start = [], 0
    for m in boundary.finditer(text):
        out.append(text[start: m.end()])
        start = m.end()
    out.append(text[start:])
    return [p.strip() for p in out if p.strip()]


def _pack(parts: list[str], max_cost: int) -> list[str]:
    """Join consecutive parts with spaces while the joined cost stays within ``max_cost``."""
    out: list[str] = []
    cur, cur_cost = "", 0
    for part in parts:
        cost = speech_cost(part)
        if cur and cur_cost + 1 + cost <= max_cost:
            cur, cur_cost = f"{cur} {part}", cur_cost + 1 + cost
        else:
            if cur:
                out.append(cur)
            cur, cur_cost = part, cost
    if cur:
        out.append(cur)
    return out


def _hard_split(word: str, max_cost: int) -> list[str]:
    """Cut one over-long word into pieces of at most ``max_cost``: the last resort (a URL, a hash, glued symbols)."""
    out: list[str] = []
    cur: list[str] = []
    cost = 0
    for ch in word:
        c = _char_cost(ch)
        if cur and cost + c > max_cost:
            out.append("".join(cur))
            cur, cost = [], 0
        cur.append(ch)
        cost += c
    if cur:
        out.append("".join(cur))
    return out


def _split_long(sentence: str, max_cost: int) -> list[str]:
    """A sentence over the limit: split at clause punctuation, then at spaces, then inside words."""
    out: list[str] = []
    for clause in _pack(_pieces(sentence, _CLAUSE_END), max_cost):
        if speech_cost(clause) <= max_cost:
            out.append(clause)
            continue
        words: list[str] = []
        for word in clause.split():
            words.extend([word] if speech_cost(word) <= max_cost else _hard_split(word, max_cost))
        out.extend(_pack(words, max_cost))
    return out


def speech_chunks(text: str, max_cost: int = MAX_CHUNK_COST) -> Iterator[str]:
    """Split ``text`` into chunks a synthesizer can speak one at a time with bounded memory.

    Line breaks always end a chunk. Within a line, sentences are packed together up to ``max_cost`` estimated
    phonemes (``speech_cost``); a sentence over the limit is split at commas/semicolons/colons/dashes, then at spaces,
    and a single over-long word is cut. Digit runs longer than ``MAX_DIGIT_RUN`` are spoken in groups of
    ``DIGIT_GROUP``. Whitespace inside a chunk is collapsed; no chunk is empty. Linear in the length of ``text``.
    """
    if max_cost < 20:
        raise ValueError("max_cost must be at least 20 estimated phonemes")
    text = _LONG_DIGITS.sub(_group_digits, unicodedata.normalize("NFC", text))
    for line in text.splitlines():
        parts: list[str] = []
        for sentence in _pieces(" ".join(line.split()), _SENTENCE_END):
            parts.extend([sentence] if speech_cost(sentence) <= max_cost else _split_long(sentence, max_cost))
        yield from _pack(parts, max_cost)
