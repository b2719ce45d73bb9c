"""Start ``hugginggpt models-server`` as a real subprocess on a free loopback port and wait until it answers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from server.conftest import free_port


def start_models_server(tmp_path: Path, models: Sequence[str], env: Mapping[str, str],
                        timeout: float = 120.0) -> tuple[str, subprocess.Popen[bytes]]:
    """Run ``models-server --model M ...`` in ``tmp_path`` with ``env``; return its URL and process once
    ``/running`` says so. Fails the test (killing the process) if it exits first or is not up in ``timeout`` s."""
    cmd = [sys.executable, "-m", "hugginggpt.cli", "models-server", "--port", str(port := free_port())]
    for mid in models:
        cmd += ["--model", mid]
    proc = subprocess.Popen(cmd, env=dict(env), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"models-server exited: {proc.stdout.read().decode(errors='replace')[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/running", timeout=1).json().get("running"):
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=30)
            pytest.fail(f"models-server did not start in {timeout:g} s")
