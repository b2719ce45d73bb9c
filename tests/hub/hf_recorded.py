"""RECORDED RESPONSE SHAPES of the Hugging Face hosted inference API (hf-inference provider), one per task, served by
a local HTTP server because the real service is not reachable from the test machine.

These are transcriptions of the documented JSON shapes the hosted API returns (the same shapes huggingface_hub's
generated ``*OutputElement`` types parse and JARVIS's ``awesome_chat.py`` consumed), with made-up values. They were
not captured live from api-inference/router.huggingface.co; a change of the hosted API would not show up here.
"""

from __future__ import annotations

import base64
import io
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

from stub_http import serve_in_thread, stop


def _png(color: tuple[int, int, int] = (255, 255, 255), size: tuple[int, int] = (96, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _mask_b64() -> str:
    mask = Image.new("L", (96, 64), 0)
    mask.paste(255, (10, 10, 50, 40))
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _wav() -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(1600, dtype=np.float32), 16000, format="WAV")
    return buf.getvalue()


# model id -> (task, JSON body or raw bytes, content type)
RECORDED: dict[str, tuple[str, Any, str]] = {
    "distilbert-base-uncased-finetuned-sst-2-english": (
        "text-classification", [[{"label": "POSITIVE", "score": 0.9998}, {"label": "NEGATIVE", "score": 0.0002}]],
        "application/json"),
    "dslim/bert-base-NER": (
        "token-classification", [{"entity_group": "PER", "score": 0.998, "word": "Sarah", "start": 11, "end": 16},
                                 {"entity_group": "LOC", "score": 0.997, "word": "London", "start": 31, "end": 37}],
        "application/json"),
    "facebook/bart-large-cnn": (
        "summarization", [{"summary_text": "The council approved the new park."}], "application/json"),
    "deepset/roberta-base-squad2": (
        "question-answering", {"score": 0.91, "start": 0, "end": 5, "answer": "Paris"}, "application/json"),
    "google/vit-base-patch16-224": (
        "image-classification", [{"label": "tabby, tabby cat", "score": 0.62}, {"label": "Egyptian cat", "score": 0.2}],
        "application/json"),
    "facebook/detr-resnet-50": (
        "object-detection",
        [{"score": 0.99, "label": "cat", "box": {"xmin": 5, "ymin": 6, "xmax": 60, "ymax": 50}},
         {"score": 0.95, "label": "remote", "box": {"xmin": 62, "ymin": 8, "xmax": 90, "ymax": 30}}],
        "application/json"),
    "nvidia/segformer-b0-finetuned-ade-512-512": (
        "image-segmentation", [{"score": None, "label": "wall", "mask": _mask_b64()}], "application/json"),
    "openai/whisper-large-v3": (
        "automatic-speech-recognition", {"text": " The quick brown fox jumps over the lazy dog."}, "application/json"),
    "Salesforce/blip-image-captioning-large": (
        "image-to-text", [{"generated_text": "a cat sitting on a couch"}], "application/json"),
    "espnet/kan-bayashi_ljspeech_vits": ("text-to-speech", _wav(), "audio/wav"),
    "stabilityai/stable-diffusion-2-1": ("text-to-image", _png((200, 30, 30)), "image/png"),
}
ERRORS = {"err/unauthorized": 401, "err/missing": 404, "err/busy": 429, "err/cold": 503}


class RecordingServer:
    """Serves ``RECORDED`` at ``POST /models/<id>`` and ``GET /status/<id>``; remembers every request it got."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                mid = self.path.removeprefix("/status/")
                outer.requests.append({"method": "GET", "path": self.path})
                loaded = mid in RECORDED or mid in ERRORS or mid == "slow/model"
                self._send(200, json.dumps({"loaded": loaded, "state": "Loaded" if loaded else "TooBig"}).encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                mid = self.path.removeprefix("/models/")
                outer.requests.append({"method": "POST", "path": self.path, "model": mid, "body": body,
                                       "content_type": self.headers.get("content-type"),
                                       "authorization": self.headers.get("authorization")})
                if mid in ERRORS:
                    self._send(ERRORS[mid], json.dumps({"error": f"recorded {ERRORS[mid]}"}).encode())
                elif mid == "slow/model":
                    time.sleep(3)
                    self._send(200, b"[]")
                elif mid in RECORDED:
                    _, payload, ctype = RECORDED[mid]
                    self._send(200, payload if isinstance(payload, bytes) else json.dumps(payload).encode(), ctype)
                else:
                    self._send(404, b'{"error": "Model not found"}')

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def __enter__(self) -> RecordingServer:
        self.thread = serve_in_thread(self.httpd)
        return self

    def __exit__(self, *exc: Any) -> None:
        stop(self.httpd, self.thread)

    def last(self, model: str) -> dict[str, Any]:
        return next(r for r in reversed(self.requests) if r.get("model") == model)
