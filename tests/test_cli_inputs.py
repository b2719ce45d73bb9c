"""What the command line takes in: a request with bytes that are not UTF-8 is cleaned, not a crash; input refused
before the run (an empty request, a path outside the allowed places, an unusable attached file) exits 2, as the
README says of bad input, and a run whose task failed on a missing file exits 1."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from test_cli import CLI, cli

# Bytes 0xff 0xfe are no UTF-8: Python's argv holds them as the lone surrogates U+DCFF U+DCFE.
NOT_UTF8 = "what is the sentiment of: \udcff\udcfe I love this movie"
CLEANED = "what is the sentiment of: \ufffd\ufffd I love this movie"


def _requests(workspace: Path) -> list[str]:
    with sqlite3.connect(workspace / "server.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT request FROM runs")]


def test_a_request_with_bytes_that_are_not_utf8_is_cleaned_and_recorded(tmp_path):
    ws = tmp_path / "ws"
    out = cli("run", NOT_UTF8, "--json", "--workspace", str(ws), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["request"] == CLEANED and result["plan"][0]["task"] == "text-classification"
    chat = subprocess.run([CLI, "chat", "--workspace", str(ws)], cwd=tmp_path, capture_output=True, timeout=300,
                          input=NOT_UTF8.encode("utf-8", "surrogateescape") + b"\n\n")
    assert chat.returncode == 0, chat.stderr.decode()
    assert b"Traceback" not in chat.stderr and b"positive" in chat.stdout
    assert _requests(ws) == [CLEANED, CLEANED]


def test_input_refused_before_the_run_exits_2(tmp_path):
    ws = str(tmp_path / "ws")
    refused = {("run", "Describe ../../etc/passwd and read it aloud"): "ResourceAccessDenied",
               ("run", "What is in this picture?", "--file", "/etc/passwd"): "ResourceError",
               ("run", "   "): "RequestError"}
    for args, error in refused.items():
        out = cli(*args, "--json", "--workspace", ws, cwd=tmp_path)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert json.loads(out.stdout)["error"]["type"] == error
    ran = cli("run", "describe nothere.jpg", "--json", "--workspace", ws, cwd=tmp_path)  # a task failed: 1
    result = json.loads(ran.stdout)
    assert ran.returncode == 1 and result["error"] is None and result["results"][0]["status"] == "failed"
