"""Run history and cost in the CLI, through the real command line (Typer's runner, in process so that the embedded
models load once) with the real embedded experts on generated images: runs are recorded in the workspace's run
database (the server's file), listed and shown; ``rm`` deletes only the artifacts no other run refers to; ``gc``
frees the unreferenced ones and reports the bytes; costs appear only with a price table and equal tokens x price
(tokens from a fake OpenAI-compatible endpoint on loopback)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from hugginggpt.cli import app
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.costs import run_cost
from hugginggpt.runstore import RunStore
from openai_stub import FakeOpenAIServer

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HUGGINGGPT_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    Image.new("RGB", (320, 240), (200, 60, 40)).save(tmp_path / "red.png")
    img = Image.new("RGB", (320, 240), (20, 40, 200))
    for x in range(60, 260):  # a white square: edges to find
        for y in range(60, 180):
            img.putpixel((x, y), (255, 255, 255))
    img.save(tmp_path / "square.png")
    return tmp_path


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def run_json(request: str, *extra: str) -> dict:
    code, out = cli("run", request, "--json", "--workspace", "ws", *extra)
    assert code == 0, out
    return json.loads(out)


def artifact(result: dict) -> Path:
    return Path(result["results"][0]["outputs"][0]["path"])


def test_runs_are_recorded_listed_shown_removed_and_collected(cwd: Path) -> None:
    first = run_json("Find the edges in red.png")
    second = run_json("Find the edges in red.png")  # the same output file as the first run
    third = run_json("Find the edges in square.png")
    shared, own = artifact(first), artifact(third)
    assert artifact(second) == shared and shared != own and shared.exists() and own.exists()

    # Recorded in the file the server uses by default, under the ids the results carry.
    db_file = cwd / "ws" / "server.sqlite3"
    assert HuggingGPTConfig(workspace=cwd / "ws").run_database == db_file
    db = RunStore(db_file)
    recorded = {r.id: r for r in db.list_runs()}
    assert set(recorded) == {first["run_id"], second["run_id"], third["run_id"]}
    assert {r.status for r in recorded.values()} == {"succeeded"} and {r.source for r in recorded.values()} == {"cli"}
    db.close()

    code, out = cli("runs", "list", "--workspace", "ws")
    assert code == 0, out
    for r in (first, second, third):
        assert re.search(rf"{r['run_id']}\s+succeeded\s+cli\s.*\s1\s+Find the edges", out), out
    assert not re.search(r"\bcost\b", out.replace(str(cwd), ""))  # no price table: no cost column
    code, out = cli("runs", "list", "--workspace", "ws", "--status", "failed", "--json")
    assert code == 0 and json.loads(out) == []
    rows = json.loads(cli("runs", "list", "--workspace", "ws", "--limit", "2", "--json")[1])
    assert [r["id"] for r in rows] == [third["run_id"], second["run_id"]]  # newest first
    assert rows[0]["artifacts"] == 1 and rows[0]["tokens"] == 0 and rows[0]["seconds"] > 0

    code, out = cli("runs", "show", first["run_id"][:8], "--workspace", "ws")  # an id prefix is enough
    assert code == 0, out
    assert "canny-control" in out and "hugginggpt/opencv-canny" in out and str(shared) in out
    assert "Plan (offline planner)" in out and "Answer" in out and re.search(r"time \d+\.\d\d s \(plan", out)
    assert "tokens 0" in out and not re.search(r"^cost", out, re.M)
    assert cli("runs", "show", "0000nope", "--workspace", "ws")[0] == 1

    # rm: the shared output stays while the second run refers to it; the third run's own files go.
    code, out = cli("runs", "rm", first["run_id"], "--workspace", "ws")
    assert code == 0, out
    assert "0 artifact file(s) deleted" in out and "kept (still used by other runs)" in out
    assert shared.exists()
    own_size = own.stat().st_size
    code, out = cli("runs", "rm", third["run_id"], "--workspace", "ws")
    assert code == 0, out
    assert not own.exists() and shared.exists()
    deleted = int(re.search(r"(\d+) artifact file\(s\) deleted, ([\d,]+) bytes", out).group(1))
    freed = int(re.search(r"deleted, ([\d,]+) bytes freed", out).group(1).replace(",", ""))
    assert deleted == 2 and freed > own_size  # its output and its copy of square.png
    assert [r["id"] for r in json.loads(cli("runs", "list", "--workspace", "ws", "--json")[1])] == [second["run_id"]]

    # gc: an orphan file (no run refers to it) is freed and its bytes reported; referenced files stay.
    orphan_data = b"an artifact of a run that was deleted elsewhere" * 100
    orphan = cwd / "ws" / "artifacts" / f"{hashlib.sha256(orphan_data).hexdigest()}.txt"
    orphan.write_bytes(orphan_data)
    code, out = cli("runs", "gc", "--workspace", "ws")
    assert code == 0, out
    assert f"gc: removed 0 run record(s); 1 artifact file(s) deleted, {len(orphan_data):,} bytes freed" in out
    assert not orphan.exists() and shared.exists()
    # --older-than 0: every finished run is old enough; then its files are unreferenced too.
    files = sorted((cwd / "ws" / "artifacts").iterdir())
    size = sum(f.stat().st_size for f in files)
    code, out = cli("runs", "gc", "--older-than", "0", "--workspace", "ws")
    assert code == 0, out
    assert f"gc: removed 1 run record(s); {len(files)} artifact file(s) deleted, {size:,} bytes freed" in out
    assert not shared.exists()
    assert json.loads(cli("runs", "list", "--workspace", "ws", "--json")[1]) == []


def test_cost_appears_only_with_prices_and_is_tokens_times_price(cwd: Path) -> None:
    answer = "The edges of red.png are in the image file."
    with FakeOpenAIServer.answering(answer, model="fake", prompt_tokens=1234, completion_tokens=56) as fake:
        llm = ("--llm-url", fake.url, "--llm-model", "fake", "--planner", "offline")
        unpriced = run_json("Find the edges in red.png", *llm)
        code, out = cli("run", "Find the edges in red.png", "--workspace", "ws", *llm)
        assert code == 0, out
        assert not re.search(r"^cost", out, re.M)
        (cwd / "hugginggpt.yaml").write_text("costs:\n  prices:\n    fake: [2.5, 10.0]\n    other: [1, 1]\n")
        code, out = cli("run", "Find the edges in red.png", "--workspace", "ws", *llm)
        assert code == 0, out
        calls = len(fake.requests)
    usage = unpriced["usage"]
    assert usage["model"] == "fake" and usage["calls"] >= 1 and calls == 3 * usage["calls"]
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    assert (prompt, completion) == (1234 * usage["calls"], 56 * usage["calls"])
    expected = prompt * 2.5 / 1e6 + completion * 10.0 / 1e6
    assert f"cost {expected:.6f} (model fake: {prompt:,} prompt + {completion:,} completion tokens)" in out

    rows = json.loads(cli("runs", "list", "--workspace", "ws", "--json")[1])
    assert [r["cost"] for r in rows] == pytest.approx([expected] * 3)  # priced with the table now in force
    code, out = cli("runs", "list", "--workspace", "ws")
    assert re.search(r"\bcost\b", out.replace(str(cwd), "")) and out.count(f"{expected:.6f}") == 3
    code, out = cli("runs", "show", rows[0]["id"], "--workspace", "ws")
    assert code == 0 and f"cost {expected:.6f}" in out and f"tokens {prompt + completion:,}" in out

    # The one function both use: off without a table, unknown for an unpriced model, zero without tokens.
    assert run_cost(usage, {}) is None
    assert run_cost(usage, {"other": (1.0, 1.0)}).amount is None
    assert run_cost({"model": "x", "prompt_tokens": 0, "completion_tokens": 0}, {"other": (1.0, 1.0)}).amount == 0
    assert run_cost(usage, {"fake": (2.5, 10.0)}).amount == pytest.approx(expected)


def test_server_and_cli_runs_share_one_history(cwd: Path) -> None:
    from fastapi.testclient import TestClient

    from hugginggpt.server.app import create_app

    cli_run = run_json("Find the edges in red.png")
    config = HuggingGPTConfig(workspace=cwd / "ws", server={"ui": False}, allowed_dirs=[cwd])
    with TestClient(create_app(config)) as client:
        runs = client.get("/v1/runs").json()["runs"]
        assert [(r["id"], r["source"], r["status"]) for r in runs] == [(cli_run["run_id"], "cli", "succeeded")]
        started = client.post("/v1/runs", json={"request": f"Find the edges in {cwd / 'square.png'}"})
        assert started.status_code == 202, started.text
        server_id = started.json()["id"]
        for _ in range(600):
            status = client.get(f"/v1/runs/{server_id}").json()["status"]
            if status not in ("queued", "running"):
                break
            time.sleep(0.2)
        assert status == "succeeded"
    rows = json.loads(cli("runs", "list", "--workspace", "ws", "--json")[1])
    assert {(r["id"], r["source"]) for r in rows} == {(cli_run["run_id"], "cli"), (server_id, "api")}
    code, out = cli("runs", "show", server_id, "--workspace", "ws")
    assert code == 0 and f"run {server_id}" in out and "api" in out


def test_chat_turns_are_recorded_as_one_conversation(cwd: Path) -> None:
    result = CliRunner().invoke(app, ["chat", "--workspace", "ws"],
                                input="Find the edges in red.png\nFind the edges in square.png\n\n")
    assert result.exit_code == 0, result.output
    db = RunStore(cwd / "ws" / "server.sqlite3")
    runs = db.list_runs()
    assert [(r.source, r.status, r.request) for r in runs] == [
        ("cli-chat", "succeeded", "Find the edges in square.png"),
        ("cli-chat", "succeeded", "Find the edges in red.png")]
    conversation = runs[0].conversation_id
    assert conversation and runs[1].conversation_id == conversation
    messages = db.messages(conversation)
    assert [(m["role"], m["run_id"]) for m in messages] == [
        ("user", runs[1].id), ("assistant", runs[1].id), ("user", runs[0].id), ("assistant", runs[0].id)]
    assert messages[1]["content"] == runs[1].result["answer"]
    db.close()


def test_an_interrupted_run_is_recorded_and_an_unwritable_history_never_fails_a_run(
        cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hugginggpt.cli_runs import RunRecorder

    config = HuggingGPTConfig(workspace=cwd / "ws")
    with pytest.raises(KeyboardInterrupt), RunRecorder(config, "cli").run("Find the edges in red.png", []):
        raise KeyboardInterrupt
    db = RunStore(config.run_database)
    (rec,) = db.list_runs()
    assert rec.status == "interrupted" and rec.error["code"] == "interrupted" and rec.finished_at
    db.close()

    # A database that cannot be opened (here a directory): one warning, and the run itself goes on.
    monkeypatch.setenv("HUGGINGGPT_SERVER__DATABASE", str(cwd))
    result = CliRunner().invoke(app, ["run", "Find the edges in red.png", "--workspace", "ws2"])
    assert result.exit_code == 0, result.output
    assert result.output.count("run history off: cannot write") == 1 and "Answer" in result.output
