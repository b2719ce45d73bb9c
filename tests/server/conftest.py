"""Fixtures for the server tests: apps over the real agent (offline planner, embedded experts), an in-process
httpx client, a live uvicorn server on loopback, and small generated media files."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hugginggpt.config import HuggingGPTConfig
from hugginggpt.server.app import build_agent, create_app

SENTIMENT = "what is the sentiment of: I love this movie, the acting was wonderful"


@pytest.fixture(scope="session")
def shared_agent(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real agent for the in-process tests (models load once); built as the server builds it."""
    return build_agent(HuggingGPTConfig(workspace=tmp_path_factory.mktemp("agent-ws")))


@pytest.fixture
def make_app(tmp_path: Path, shared_agent: Any) -> Callable[..., Any]:
    """``make_app(**server_settings)``: an app with UI off unless asked, its database under tmp_path."""

    def make(*, agent: Any = None, **server: Any) -> Any:
        server.setdefault("ui", False)
        config = HuggingGPTConfig(workspace=tmp_path / "ws", server=server)
        return create_app(config, agent=agent or shared_agent)

    return make


@pytest.fixture
def client(make_app: Callable[..., Any]) -> Iterator[httpx.Client]:
    """An httpx client (Starlette's TestClient) on the app; runs started by one request go on in its event loop."""
    with TestClient(make_app(), raise_server_exceptions=False) as c:
        c.timeout = 300
        yield c


def png_bytes(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).ellipse([4, 4, size[0] - 4, size[1] - 4], fill=color)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def sse_events(text: str) -> list[dict[str, Any]]:
    """Parse an SSE body into [{"id", "event", "data"}] (comments skipped)."""
    out = []
    for block in text.strip().split("\n\n"):
        ev: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            ev[field] = value
        if ev:
            out.append(ev)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The app served by uvicorn on loopback in a thread (lifespan on: Gradio's queue needs it)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def wait_run(c: httpx.Client, run_id: str, timeout: float = 300, until: tuple[str, ...] = (
        "succeeded", "failed", "interrupted"), headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.time() + timeout
    while True:
        r = c.get(f"/v1/runs/{run_id}", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in until:
            return body
        if time.time() > deadline:
            raise AssertionError(f"run {run_id} still {body['status']}: {json.dumps(body)[:500]}")
        time.sleep(0.1)
