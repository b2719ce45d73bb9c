"""``hugginggpt models-server`` on loopback (a real subprocess) hosting embedded experts; the controller's ``http``
backend runs plan tasks there; killing the server mid-run fails the next task with a named error and the run
still completes."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hugginggpt.results import Event
from models_server_proc import start_models_server

# A models server process loading real models, and calls of up to 120 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HOSTED = ["hugginggpt/vader-sentiment", "hugginggpt/efficientnet-lite0"]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HUGGINGGPT_WORKSPACE": str(tmp_path)}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    url, proc = start_models_server(tmp_path, HOSTED, _env(tmp_path))
    yield url, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_jarvis_api_shapes(server, media) -> None:
    url, _ = server
    assert httpx.get(f"{url}/running").json()["running"] is True
    assert httpx.get(f"{url}/status/hugginggpt/vader-sentiment").json()["loaded"] is True
    assert httpx.get(f"{url}/status/not/hosted").json()["loaded"] is False
    assert {m["id"] for m in httpx.get(f"{url}/models").json()} == set(HOSTED)
    # JARVIS client shape: text tasks post their args, answers are pipeline-like lists of labels.
    scores = httpx.post(f"{url}/models/hugginggpt/vader-sentiment", json={"text": "I love this, it is great"},
                        timeout=60).json()
    assert isinstance(scores, list) and scores
    # Images as img_url; ours also accept data: URIs (a JARVIS server would need a shared path).
    uri = "data:image/png;base64," + base64.b64encode(media["image"].read_bytes()).decode()
    labels = httpx.post(f"{url}/models/hugginggpt/efficientnet-lite0", json={"img_url": uri}, timeout=120).json()
    assert isinstance(labels, list) and {"label", "score"} <= set(labels[0])
    bad = httpx.post(f"{url}/models/hugginggpt/efficientnet-lite0", json={"img_url": "/etc/passwd"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "ExpertInputError"
    missing = httpx.post(f"{url}/models/not/hosted", json={"text": "x"}, timeout=30)
    assert missing.status_code == 404 and "error" in missing.json()


def test_plan_runs_on_the_server_and_survives_its_death(server, media, make_agent) -> None:
    url, proc = server
    plan = [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "photo.png"}},
            {"task": "text-classification", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
            {"task": "text-classification", "id": 2, "dep": [-1], "args": {"text": "what a lovely day"}}]
    agent = make_agent(plan, model_servers=[{"url": url, "timeout": 120}], max_parallel=1)
    assert [b.name for b in agent.backends()][:1] == ["http"]

    def on_event(event: Event) -> None:
        # The first task finished on the server: kill it before the next one is sent.
        if event.kind == "task" and event.status == "ok" and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)

    run = agent.run("classify photo.png and say how the label sounds", on_event=on_event)
    assert run.error is None
    by_id = {r.task.id: r for r in run.results}
    first_ok = [r for r in run.results if r.status == "ok"]
    assert len(first_ok) == 1 and first_ok[0].choice.backend == "http"
    assert first_ok[0].data["server"] == url
    failed = [r for r in run.results if r.status == "failed"]
    assert failed and all(r.error.type == "ModelServerUnreachable" for r in failed), [r.error for r in failed]
    assert all(r.error.hint for r in failed)
    if by_id[0].status == "failed":  # the independent task won the race: task 1 is skipped, not run
        assert by_id[1].status == "skipped"
    assert run.answer  # the responder still answers from what ran


def test_controller_uses_a_model_only_the_server_has(tmp_path: Path, tiny, media, make_agent) -> None:
    """The "GPU box" hosts a local transformers model that is in no catalog of the controller: the server's
    ``GET /models`` listing adds it to the controller's catalog and the plan runs it remotely."""
    model_dir = tiny("image-classification")
    url, proc = start_models_server(tmp_path, [f"image-classification={model_dir}"], _env(tmp_path))
    try:
        plan = [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "photo.png"}}]
        agent = make_agent(plan, model_servers=[{"url": url}], overrides={"image-classification": model_dir.name})
        assert agent.catalog.get(model_dir.name).task == "image-classification"
        run = agent.run("classify photo.png")
        [result] = run.results
        assert result.status == "ok", result.error
        assert (result.choice.model_id, result.choice.backend) == (model_dir.name, "http")
        assert result.data["backend"] == "transformers" and result.data["server"] == url
        assert result.data["label"] in ("cat", "dog")
    finally:
        proc.kill()
        proc.wait(timeout=30)
