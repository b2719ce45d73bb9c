"""Audio I/O shared by the experts and the hub backends: decode any audio file to float32 mono at a given rate, and
encode WAV.

WAV/FLAC/OGG/MP3 are read with soundfile (libsndfile); anything else (m4a, aac, opus, the audio track of a video) is
decoded by the ffmpeg binary that ships inside ``imageio-ffmpeg``. Resampling is numpy-only (FFT, in padded blocks so
long files stay cheap), so no scipy/torchaudio is needed. ``speech_chunks`` splits text to speak into short chunks so
that text-to-speech memory does not grow with the length of the text.
"""

from __future__ import annotations

import io
import logging
import subprocess
import wave
from pathlib import Path

import numpy as np

from ..errors import ExpertInputError

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
