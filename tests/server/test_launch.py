"""spawn_server: a real server process on loopback, and a named error when it cannot start."""

from __future__ import annotations

import socket

import httpx
import pytest

from hugginggpt.server.launch import ServerStartError, spawn_server

from .conftest import free_port

pytestmark = pytest.mark.slow


def test_spawn_server_answers_healthz(tmp_path):
    port = free_port()
    proc = spawn_server(port, tmp_path / "ws", log=tmp_path / "server.log",
                        env={"HUGGINGGPT_CONFIG": str(tmp_path / "none.yaml")})
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_spawn_server_on_a_busy_port_is_a_named_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServerStartError) as info:
            spawn_server(port, tmp_path / "ws", log=tmp_path / "server.log", timeout=60,
                         env={"HUGGINGGPT_CONFIG": str(tmp_path / "none.yaml")})
    assert info.value.code == "server_start_failed" and "exited" in info.value.message
