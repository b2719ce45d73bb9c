"""The command line, run as a user would (a subprocess in a working directory with generated inputs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

CLI = str(Path(sys.executable).with_name("hugginggpt"))


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    env.pop("HUGGINGGPT_CONFIG", None)
    return subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def cwd(tmp_path) -> Path:
    Image.new("RGB", (320, 240), (200, 60, 40)).save(tmp_path / "red.png")
    return tmp_path


def test_plan_json_is_a_jarvis_task_list(cwd):
    out = cli("plan", "Describe red.png and read the description aloud", "--json", cwd=cwd)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan == [
        {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "red.png"}},
        {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
    ]


def test_a_request_written_as_a_bullet_list_is_the_request_not_an_option(cwd):
    # "-f" is the --file option: a bullet list with an "f" in it once took the rest of the request as a file name
    request = "- caption red.png for me - then read the caption aloud, fast"
    for args in (("plan", request, "--json"), ("plan", "--json", request), ("plan", "--json", "--", request)):
        out = cli(*args, cwd=cwd)
        assert out.returncode == 0, out.stderr
        assert [t["task"] for t in json.loads(out.stdout)] == ["image-to-text", "text-to-speech"]
    assert cli("plan", "--bogus", "caption red.png", cwd=cwd).returncode == 2  # an unknown option is still one


def test_plan_says_which_tasks_it_left_out(cwd):
    """A task left out of the plan is said on stderr, with the table and with --json alike (stdout stays the plan)."""
    for extra in ((), ("--json",)):
        out = cli("plan", "caption red.png and transcribe it", *extra, cwd=cwd)
        assert out.returncode == 0, out.stderr
        assert "left out automatic-speech-recognition" in " ".join(out.stderr.split())
        assert "image-to-text" in out.stdout and "automatic-speech-recognition" not in out.stdout
    assert json.loads(out.stdout) == [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "red.png"}}]


@pytest.mark.slow
@pytest.mark.timeout(360)  # a CLI run with models: up to 300 s
def test_run_json_gives_absolute_artifact_paths(cwd):
    out = cli("run", "Find the edges in red.png", "--json", "--workspace", str(cwd / "ws"), cwd=cwd)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["plan"][0]["task"] == "canny-control"
    art = result["results"][0]["outputs"][0]
    path = Path(art["path"])
    assert path.is_absolute() and path.exists() and path.suffix == ".png"
    assert art["sha256"] in path.name and result["answer"]


def test_run_reports_named_errors_with_exit_codes(cwd):
    missing = cli("run", "Describe x.png", "--file", "missing.png", cwd=cwd)
    assert missing.returncode != 0
    assert "ResourceError" in missing.stderr and "File not found" in missing.stderr
    empty = cli("run", "", "--json", cwd=cwd)
    assert empty.returncode != 0
    assert json.loads(empty.stdout)["error"]["type"] == "RequestError"
    hostile = cli("run", "Classify ../../etc/passwd.png", "--json", "--workspace", str(cwd / "ws"), cwd=cwd)
    result = json.loads(hostile.stdout)
    errors = [result["error"]] if result["error"] else [r["error"] for r in result["results"]]
    assert errors[0]["type"] == "ResourceAccessDenied"


def test_tasks_models_and_doctor_json(cwd):
    tasks = json.loads(cli("tasks", "--json", cwd=cwd).stdout)
    assert len(tasks) >= 35 and {"name", "inputs", "outputs"} <= set(tasks[0])
    models = json.loads(cli("models", "--task", "translation", "--json", cwd=cwd).stdout)
    assert models and all(m["task"] == "translation" for m in models)
    assert not any(m["available"] for m in models)  # no offline translation model
    doctor = cli("doctor", "--json", cwd=cwd)
    assert doctor.returncode == 0, doctor.stderr
    report = json.loads(doctor.stdout)
    assert {"llm", "backends", "tasks"} <= set(report)
    assert report["backends"]["embedded"]["available"] is True
    assert all(isinstance(b["reason"], str) for b in report["backends"].values())
    assert report["tasks"]["translation"] == []
    assert any(m.startswith("hugginggpt/") for m in report["tasks"]["image-classification"])
    assert report["llm"]["capable"] is False and report["llm"]["planner"] == "offline"
