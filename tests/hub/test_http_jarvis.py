"""The ``http`` backend against a server that answers like JARVIS's ``models_server.py`` (no ``/models`` listing,
``/status`` probes, inputs read from paths on a shared disk, results as ``{"path": ...}`` under its public dir), and a
server that dies in the middle of a request.

The stub below is OUR stand-in that reproduces JARVIS's request/response shapes (read from microsoft/JARVIS
hugginggpt/server/models_server.py); it runs no models."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hugginggpt.backends.http import HTTPBackend, ModelServer
from hugginggpt.catalog.cards import ModelCard
from hugginggpt.experts.hub.errors import ModelServerUnreachable, RemoteError
from stub_http import serve_in_thread, stop

HOSTED = {"facebook/detr-resnet-101", "Intel/dpt-large", "openai/whisper-base", "ydshieh/vit-gpt2-coco-en",
          "dying/model", "broken/model"}


class JarvisStub:
    def __init__(self, public: Path) -> None:
        self.public = public
        self.seen: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                return None

            def _json(self, body: Any, code: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/running":
                    self._json({"running": True})
                elif self.path.startswith("/status/"):
                    self._json({"loaded": self.path.removeprefix("/status/") in HOSTED})
                else:  # JARVIS has no /models and serves no files
                    self._json({"error": "not found"}, 404)

            def do_POST(self) -> None:
                mid = self.path.removeprefix("/models/")
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                stub.seen.append({"model": mid, "body": body})
                if mid == "dying/model":  # the process dies mid-request: the socket closes without an answer
                    self.connection.shutdown(2)
                    self.close_connection = True
                    return
                if mid == "broken/model":  # JARVIS answers 200 with an error object when inference raised
                    self._json({"error": {"message": "Error when running the model inference."}})
                    return
                if mid == "facebook/detr-resnet-101":
                    assert Path(body["img_url"]).is_file()
                    self._json([{"score": 0.98, "label": "cat", "box": {"xmin": 1, "ymin": 2, "xmax": 30, "ymax": 40}}])
                elif mid == "Intel/dpt-large":
                    (stub.public / "images").mkdir(exist_ok=True)
                    Image.open(body["img_url"]).convert("L").save(stub.public / "images" / "d3p7.jpg")
                    self._json({"path": "/images/d3p7.jpg"})
                elif mid == "openai/whisper-base":
                    assert Path(body["audio_url"]).is_file()
                    self._json({"text": "hello world"})
                elif mid == "ydshieh/vit-gpt2-coco-en":
                    self._json({"generated text": "a cat on a mat"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = serve_in_thread(self.httpd)

    def close(self) -> None:
        stop(self.httpd, self.thread)


@pytest.fixture()
def jarvis(tmp_path: Path):
    public = tmp_path / "public"
    public.mkdir()
    stub = JarvisStub(public)
    yield stub
    stub.close()


def _card(mid: str, task: str) -> ModelCard:
    return ModelCard(id=mid, task=task)


def test_jarvis_shapes_are_decoded(jarvis: JarvisStub, media) -> None:
    backend = HTTPBackend([ModelServer(jarvis.url, shared_dir=jarvis.public, timeout=10)])
    assert backend.status()[0]
    det = _card("facebook/detr-resnet-101", "object-detection")
    assert backend.can_serve(det) == (True, f"hosted on {jarvis.url}")
    assert not backend.can_serve(_card("not/there", "object-detection"))[0]

    out = backend.expert(det).run({"image": media["image"]})
    assert out.outputs[0].text == "cat (0.98)" and out.data["objects"][0]["box"]["xmax"] == 30
    sent = jarvis.seen[-1]["body"]["img_url"]
    assert Path(sent).is_relative_to(jarvis.public)  # copied onto the shared disk, as JARVIS reads paths

    out = backend.expert(_card("Intel/dpt-large", "depth-estimation")).run({"image": media["image"]})
    assert out.outputs[0].kind == "image" and out.outputs[0].ext == ".jpg" and out.outputs[0].data[:2] == b"\xff\xd8"

    out = backend.expert(_card("openai/whisper-base", "automatic-speech-recognition")).run({"audio": media["audio"]})
    assert out.outputs[0].text == "hello world"
    out = backend.expert(_card("ydshieh/vit-gpt2-coco-en", "image-to-text")).run({"image": media["image"]})
    assert out.outputs[0].text == "a cat on a mat"

    with pytest.raises(RemoteError, match="Error when running the model inference"):
        backend.expert(_card("broken/model", "image-to-text")).run({"image": media["image"]})


@pytest.mark.slow
def test_server_dying_mid_request_fails_only_that_task(jarvis: JarvisStub, media, make_agent, tmp_path: Path) -> None:
    cards = [{"id": "dying/model", "task": "image-to-text"}, {"id": "openai/whisper-base",
                                                                "task": "automatic-speech-recognition"}]
    plan = [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "photo.png"}},
            {"task": "text-classification", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
            {"task": "automatic-speech-recognition", "id": 2, "dep": [-1], "args": {"audio": "speech.wav"}}]
    forced = {"image-to-text": "dying/model", "automatic-speech-recognition": "openai/whisper-base"}
    agent = make_agent(plan, cards=cards, model_servers=[{"url": jarvis.url, "shared_dir": str(jarvis.public)}],
                       overrides=forced)
    run = agent.run("caption photo.png, rate the caption, transcribe speech.wav")
    assert run.error is None
    status = {r.task.id: r for r in run.results}
    assert status[0].status == "failed" and status[0].error.type == "ModelServerUnreachable"
    assert "Server disconnected" in status[0].error.message or "cannot be reached" in status[0].error.message
    assert status[1].status == "skipped"
    assert status[2].status == "ok" and status[2].text == "hello world" and status[2].choice.backend == "http"
    assert run.answer


def test_unreachable_server_is_reported_not_raised(tmp_path: Path) -> None:
    backend = HTTPBackend([ModelServer("http://127.0.0.1:9", timeout=2)])
    ok, why = backend.status()
    assert not ok and "unreachable" in why
    assert backend.can_serve(_card("facebook/detr-resnet-101", "object-detection"))[0] is False
    with pytest.raises(ModelServerUnreachable):
        backend.expert(_card("facebook/detr-resnet-101", "object-detection"))
