"""``models-server --ray-serve``: the Ray Serve application on a local Ray (2 CPUs) and a loopback port, used by the
real ``http`` backend and by a whole HuggingGPT run through ``model_servers:``; embedded experts on generated inputs
(a drawn PNG, espeak-ng speech). Multiplexing: one experts replica holds at most two models at a time."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("ray.serve")

from hugginggpt.backends.http import ModelServer
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.errors import ConfigError
from hugginggpt.server.launch import free_port
from hugginggpt.server.serve_app import RayServeSettings, build_app, load_serve_settings

# Starts Ray and Serve (about 20 s on 2 cores) and loads four real models in one replica, one after another.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

HOSTED = ["hugginggpt/efficientnet-lite0", "hugginggpt/composite-captioner", "hugginggpt/whisper-tiny.en",
          "hugginggpt/vader-sentiment"]
APP = "hugginggpt-models-test"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import ray
    from ray import serve

    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    root = tmp_path_factory.mktemp("serve")
    settings = RayServeSettings.model_validate({
        "app_name": APP, "max_models_per_replica": 2,
        "experts": {"num_replicas": 1, "num_cpus": 0.5, "max_ongoing_requests": 8},
        "ingress": {"num_replicas": 1, "num_cpus": 0}})
    config = HuggingGPTConfig(workspace=root / "ws", memory_budget_mb=6144)
    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, namespace="hugginggpt-serve-test", log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app(config, settings, model_ids=HOSTED), name=APP, route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    img = Image.new("RGB", (224, 224), (40, 120, 200))
    ImageDraw.Draw(img).ellipse((50, 40, 170, 180), fill=(230, 180, 40))
    img.save(tmp_path / "photo.png")
    return tmp_path / "photo.png"


@pytest.fixture()
def speech(tmp_path: Path) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make sysdeps)")
    path = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(path), "The quick brown fox jumps over the lazy dog."],
                   check=True, timeout=60)
    return path


def test_settings_file_section(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text("ray_serve:\n  max_models_per_replica: 5\n  experts:\n    autoscaling: {min_replicas: 1, "
                    "max_replicas: 3}\n", encoding="utf-8")
    settings = load_serve_settings(path)
    options = settings.experts.options()
    assert settings.max_models_per_replica == 5
    assert options["autoscaling_config"]["max_replicas"] == 3 and "num_replicas" not in options
    assert RayServeSettings().experts.options()["num_replicas"] == 1
    # No --serve-config: the ray_serve: section of the configuration file, when it has one.
    main = tmp_path / "hugginggpt.yaml"
    main.write_text("planner: offline\nray_serve:\n  experts: {num_replicas: 2}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUGGINGGPT_CONFIG", str(main))
        assert load_serve_settings(None).experts.num_replicas == 2
        main.write_text("planner: offline\n", encoding="utf-8")
        assert load_serve_settings(None) == RayServeSettings()
    with pytest.raises(ConfigError, match="Invalid Ray Serve settings"):
        path.write_text("ray_serve:\n  experts: {num_replicas: 0}\n", encoding="utf-8")
        load_serve_settings(path)


def test_cli_ray_serve_starts_answers_and_stops(tmp_path: Path) -> None:
    """`hugginggpt models-server --ray-serve --serve-config FILE` (runs before the module's Serve instance starts):
    it deploys, answers the JARVIS API, and on Ctrl-C shuts Serve and its local Ray down and exits."""
    import os
    import signal
    import sys

    config = tmp_path / "serve.yaml"
    config.write_text("ray_serve:\n  num_cpus: 2\n  experts: {num_cpus: 0.5}\n  ingress: {num_cpus: 0}\n",
                      encoding="utf-8")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HUGGINGGPT_CONFIG": os.devnull, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "hugginggpt.cli", "models-server", "--ray-serve", "--serve-config",
                             str(config), "--port", str(port), "--model", "hugginggpt/vader-sentiment"],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/running", timeout=2).json().get("running"):
                    break
            except (httpx.HTTPError, ValueError):
                time.sleep(0.5)
        else:
            pytest.fail(f"models-server --ray-serve did not start (exit code {proc.poll()})")
        scores = httpx.post(f"{url}/models/hugginggpt/vader-sentiment", json={"text": "I love it, great"},
                            timeout=60).json()
        assert {s["label"]: s["score"] for s in scores}["pos"] > 0.5, scores
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        try:  # whatever Ray left in this process group (nothing when shutdown worked)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_http_backend_runs_experts_on_serve(served: str, photo: Path, speech: Path) -> None:
    from ray import serve

    url = served
    assert httpx.get(f"{url}/running", timeout=10).json()["running"] is True
    assert {m["id"] for m in httpx.get(f"{url}/models", timeout=10).json()} == set(HOSTED)
    assert httpx.get(f"{url}/status/hugginggpt/vader-sentiment", timeout=10).json()["loaded"] is True

    server = ModelServer(url, timeout=240)
    labels = server.infer("hugginggpt/efficientnet-lite0", "image-classification", {"image": photo})
    assert labels.data["labels"] and 0 < labels.data["labels"][0]["score"] <= 1, labels.data
    caption = server.infer("hugginggpt/composite-captioner", "image-to-text", {"image": photo})
    assert caption.outputs[0].kind == "text" and len(caption.outputs[0].text or "") > 10
    heard = server.infer("hugginggpt/whisper-tiny.en", "automatic-speech-recognition", {"audio": speech})
    words = set(re.findall(r"[a-z]+", (heard.outputs[0].text or "").lower()))
    # espeak-ng's robotic voice is a hard case for whisper-tiny ("jumps" came back as "jump")
    assert len(words & {"quick", "brown", "fox", "jumps", "over", "lazy", "dog"}) >= 5, words
    mood = server.infer("hugginggpt/vader-sentiment", "text-classification", {"text": "I love this, it is great"})
    assert mood.data["label"].lower().startswith("pos"), mood.data

    # Four models went through one replica that may hold two: the multiplexer unloaded the least recently used.
    loaded = serve.get_deployment_handle("experts", app_name=APP).loaded.remote().result(timeout_s=30)
    assert 1 <= len(loaded) <= 2 and "hugginggpt/vader-sentiment" in loaded, loaded

    # JARVIS-shaped answers and errors go through the same protocol code as the plain server.
    jarvis = httpx.post(f"{url}/models/hugginggpt/vader-sentiment", json={"text": "what a lovely day"}, timeout=60)
    assert isinstance(jarvis.json(), list) and jarvis.json()
    bad = httpx.post(f"{url}/models/hugginggpt/efficientnet-lite0", json={"img_url": "/etc/passwd"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "ExpertInputError"
    missing = httpx.post(f"{url}/models/not/hosted", json={"text": "x"}, timeout=30)
    assert missing.status_code == 404
    empty = httpx.post(f"{url}/models/hugginggpt/whisper-tiny.en", json={}, timeout=60)
    assert empty.status_code == 400 and empty.json()["error"]["type"] == "ExpertInputError", empty.text


def test_whole_run_through_model_servers(served: str, photo: Path, tmp_path: Path) -> None:
    from hugginggpt.agent import HuggingGPT
    from planner_doubles import FixedPlanner

    plan: list[dict[str, Any]] = [
        {"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": photo.name}},
        {"task": "text-classification", "id": 1, "dep": [-1], "args": {"text": "what a wonderful photo"}}]
    config = HuggingGPTConfig(workspace=tmp_path / "ws", allowed_dirs=[tmp_path], max_parallel=2,
                              model_servers=[{"url": served, "timeout": 240}])
    agent = HuggingGPT(config, planner=FixedPlanner(plan), base_dir=tmp_path)
    started = time.monotonic()
    run = agent.run("classify photo.png and tell me how 'what a wonderful photo' sounds")
    assert run.error is None
    for result in run.results:
        assert result.status == "ok", result.error
        assert result.choice.backend == "http" and result.data["server"] == served
    by_id = {r.task.id: r for r in run.results}
    assert by_id[0].data["labels"] and by_id[1].data["label"].lower().startswith("pos"), by_id[1].data
    assert run.answer and time.monotonic() - started < 240


def test_evicted_holder_unloads_once(tmp_path: Path) -> None:
    """The multiplexer calls an evicted holder's ``__del__``; the object's finalizer later must not unload the same
    model loaded again for a newer holder."""
    import gc

    from hugginggpt.server.models_server import build_hosted
    from hugginggpt.server.serve_app import LoadedModel

    hosted = build_hosted(HuggingGPTConfig(workspace=tmp_path / "ws"), ["hugginggpt/vader-sentiment"],
                          public_dir=tmp_path / "public")
    old = LoadedModel(hosted, "hugginggpt/vader-sentiment")
    old.load()
    assert hosted.pool.loaded_ids() == ["hugginggpt/vader-sentiment"]
    old.__del__()  # evicted
    assert hosted.pool.loaded_ids() == []
    new = LoadedModel(hosted, "hugginggpt/vader-sentiment")
    new.load()
    del old
    gc.collect()
    assert hosted.pool.loaded_ids() == ["hugginggpt/vader-sentiment"]
    assert new.run({"text": "lovely"}).data["label"].lower().startswith("pos")
