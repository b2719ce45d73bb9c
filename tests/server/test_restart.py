"""Durability: a server killed mid-run (SIGKILL) shows that run as ``interrupted`` after a restart on the same
workspace; finished runs, their events and their artifacts survive."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from hugginggpt.server.launch import spawn_server, stop_server

from .conftest import SENTIMENT, free_port, wait_run

# The server is started twice and a run waited on for up to 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
# Long enough for text-to-speech to take seconds: the run is still executing when the server is killed.
SLOW = "read this aloud: '" + " ".join(["The quick brown fox jumps over the lazy dog near the river bank."] * 12) + "'"


def start_server(workspace: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {"HUGGINGGPT_TASK_TIMEOUT": "900", "HUGGINGGPT_CONFIG": str(workspace / "none.yaml"),
           "PYTHONUNBUFFERED": "1"}
    return spawn_server(port, workspace, log=log, env=env, cwd=workspace.parent)


def wait_for_task_running(base: str, run_id: str) -> list[dict]:
    """Follow the run's SSE stream until a task is executing; returns the events seen."""
    seen = []
    with httpx.stream("GET", f"{base}/v1/runs/{run_id}/events", timeout=300) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1]["kind"] == "task" and seen[-1]["status"] == "running":
                    return seen
    raise AssertionError(f"run ended before a task ran: {seen}")


def test_killed_server_marks_running_run_interrupted(tmp_path):
    ws, log = tmp_path / "ws", tmp_path / "server.log"
    ws.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(ws, port, log)
    try:
        with httpx.Client(base_url=base, timeout=300) as c:
            r = c.post("/v1/runs", json={"request": SENTIMENT, "conversation_id": "c1"})
            assert r.status_code == 202
            finished = wait_run(c, r.json()["id"])
            assert finished["status"] == "succeeded"
            art_url = finished["artifacts"][0]["url"]

            r = c.post("/v1/runs", json={"request": SLOW})
            assert r.status_code == 202
            slow_id = r.json()["id"]
            seen = wait_for_task_running(base, slow_id)
            assert c.get(f"/v1/runs/{slow_id}").json()["status"] == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

        proc = start_server(ws, port, log)
        with httpx.Client(base_url=base, timeout=60) as c:
            slow = c.get(f"/v1/runs/{slow_id}").json()
            assert slow["status"] == "interrupted"
            assert slow["error"]["code"] == "interrupted" and slow["finished_at"]
            # Its events up to the kill are still there, and the stream ends at once.
            events = [json.loads(line[6:]) for line in c.get(f"/v1/runs/{slow_id}/events").text.splitlines()
                      if line.startswith("data: ")]
            assert events[:len(seen)] == seen
            again = c.get(f"/v1/runs/{finished['id']}").json()
            assert again["status"] == "succeeded" and again["answer"] == finished["answer"]
            assert [x["id"] for x in c.get("/v1/runs", params={"status": "interrupted"}).json()["runs"]] == [slow_id]
            r = c.get(art_url)
            assert r.status_code == 200 and r.content
            assert len(c.get("/v1/conversations/c1").json()["messages"]) == 2
            # The restarted server takes new work.
            r = c.post("/v1/runs", json={"request": SENTIMENT})
            assert wait_run(c, r.json()["id"])["status"] == "succeeded"
    finally:
        stop_server(proc)
