"""Run ``python -m hugginggpt.server`` as a child process and wait until it answers ``/healthz``.

For scripts, benchmarks and tests that need a real server on loopback::

    port = free_port()
    proc = spawn_server(port, Path("ws"), log=Path("ws/server.log"))
    try:
        ...
    finally:
        stop_server(proc)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from ..errors import HuggingGPTError


class ServerStartError(HuggingGPTError):
    """The server process exited or did not answer ``/healthz`` in time."""

    code = "server_start_failed"


def spawn_server(port: int, workspace: Path, *, log: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, ui: bool = False, timeout: float = 180.0) -> subprocess.Popen[bytes]:
    """Start a server on 127.0.0.1:``port`` over ``workspace`` (its output appended to ``log``) and return the
    process once ``/healthz`` answers 200; raises ``ServerStartError`` with the end of the log otherwise."""
    cmd = [sys.executable, "-m", "hugginggpt.server", "--port", str(port), "--workspace", str(workspace),
           "--log-level", "warning"]
    if not ui:
        cmd.append("--no-ui")
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(f"the server exited with status {proc.returncode}: {_tail(log)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise ServerStartError(f"the server did not answer /healthz within {timeout:.0f} s: {_tail(log)}",
                           hint="Check the port is free and read the log.")


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Stop a server started by ``spawn_server``: SIGTERM (a graceful shutdown that finishes the runs' records),
    then SIGKILL if it has not exited within ``timeout`` seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it; another process could take it before use)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(log: Path, n: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"
