"""The CLI reports the run's honest status and exits with it: 0 succeeded, 3 partial, 1 failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

CLI = str(Path(sys.executable).with_name("hugginggpt"))


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    env.pop("HUGGINGGPT_CONFIG", None)
    return subprocess.run([CLI, *args, "--workspace", str(cwd / "ws")], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def test_a_run_where_every_task_failed_exits_1_and_says_so(tmp_path: Path) -> None:
    out = cli("run", "Translate 'good morning' into French", "--json", cwd=tmp_path)
    assert out.returncode == 1, out.stderr  # before: 0, with every task failed
    result = json.loads(out.stdout)
    assert result["status"] == "failed" and result["error"] is None
    assert "Run failed: none of the 1 task(s) completed." in result["answer"]


@pytest.mark.slow
@pytest.mark.timeout(360)  # a CLI run with models: up to 300 s
def test_a_partial_run_exits_3_and_the_report_names_what_was_not_done(tmp_path: Path) -> None:
    Image.new("RGB", (320, 240), (200, 60, 40)).save(tmp_path / "red.png")
    out = cli("run", "Find the edges in red.png and translate 'good morning' into French", cwd=tmp_path)
    assert out.returncode == 3, out.stderr
    assert "Answer · run partial" in out.stdout
    assert "Run partial: 1 of 2 task(s) done; not done: 1 (translation, failed)" in out.stdout
