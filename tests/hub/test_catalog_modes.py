"""Catalog overlay (sync file, user YAML), inference modes, doctor rows, CLI sub-commands offline, and the models
server hosting a local transformers model (in-process, through FastAPI's test client)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hugginggpt.catalog.cards import Catalog, ModelCard
from hugginggpt.catalog.sync import CatalogSyncError, build_catalog, overlay, plan_pull, sync, synced_path
from hugginggpt.cli import app
from hugginggpt.config import HuggingGPTConfig
from hugginggpt.doctor import diagnose


def test_overlay_updates_numbers_and_adds_new_cards() -> None:
    catalog = Catalog.default()
    before = catalog.get("ProsusAI/finbert")
    assert before is not None
    n = overlay(catalog, [ModelCard(id="ProsusAI/finbert", task="text-classification", downloads=1, likes=999,
                                    tags=["finance"]),
                          ModelCard(id="new/model", task="text-classification", likes=5)])
    assert n == 2
    after = catalog.get("ProsusAI/finbert")
    assert after.likes == 999 and after.tags == ["finance"] and after.task == before.task
    assert catalog.get("new/model") is not None and len(catalog.for_task("text-classification")) == 32


def test_build_catalog_reads_the_sync_file_and_the_user_yaml(tmp_path: Path) -> None:
    user = tmp_path / "models.yaml"
    user.write_text(yaml.safe_dump([{"id": "me/vit", "task": "image-classification", "path": str(tmp_path)}]))
    config = HuggingGPTConfig(workspace=tmp_path / "ws", catalog_file=user)
    synced = synced_path(config)
    synced.parent.mkdir(parents=True)
    synced.write_text(json.dumps([{"id": "google/vit-base-patch16-224", "task": "image-classification",
                                   "likes": 12345, "downloads": 1, "tags": []}]))
    catalog = build_catalog(config)
    assert catalog.get("me/vit").source == "user"
    assert catalog.get("google/vit-base-patch16-224").likes == 12345


def test_sync_and_pull_fail_clearly_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CatalogSyncError, match="offline mode") as info:
        sync(HuggingGPTConfig(workspace=tmp_path), tasks=["text-classification"])
    assert "HF_HUB_OFFLINE" in (info.value.hint or "")
    with pytest.raises(CatalogSyncError, match="offline"):
        plan_pull("gpt2")
    runner = CliRunner()
    result = runner.invoke(app, ["models", "pull", "gpt2", "--yes"])
    assert result.exit_code == 2 and "CatalogSyncError" in result.output


def test_models_command_still_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["models", "--task", "text-classification", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows and {r["task"] for r in rows} == {"text-classification"}


@pytest.mark.parametrize(("mode", "names"), [
    ("local", ["transformers", "embedded", "llm"]),
    ("hybrid", ["transformers", "embedded", "llm", "hf-inference"]),
    ("huggingface", ["hf-inference", "llm"]),
])
def test_inference_modes_order_the_backends(mode: str, names: list[str], make_agent) -> None:
    agent = make_agent([], inference_mode=mode)
    assert [b.name for b in agent.backends()] == names
    with_server = make_agent([], inference_mode=mode, model_servers=[{"url": "http://127.0.0.1:9"}])
    expected = names if mode == "huggingface" else ["http", *names]
    assert [b.name for b in with_server.backends()] == expected


def test_doctor_reports_hub_backends_truthfully(make_agent) -> None:
    report = diagnose(make_agent([], inference_mode="local"))
    rows = report["backends"]
    assert rows["transformers"]["available"] is True and rows["transformers"]["in_use"] is True
    assert "diffusers" in rows["transformers"]["reason"]
    assert rows["hf-inference"]["in_use"] is False and "inference_mode: local" in rows["hf-inference"]["reason"]
    assert rows["http"]["available"] is False and rows["http"]["reason"] == "no model_servers configured"


@pytest.mark.slow
def test_models_server_hosts_a_local_transformers_model(tiny, media, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from hugginggpt.experts.hub.wire import LOSSLESS_HEADER, decode_result
    from hugginggpt.server.models_server import build_hosted, create_app

    model_dir = tiny("object-detection")
    config = HuggingGPTConfig(workspace=tmp_path / "ws", device="cpu")
    hosted = build_hosted(config, [f"object-detection={model_dir}"], public_dir=tmp_path / "public")
    client = TestClient(create_app(hosted))
    mid = model_dir.name
    assert client.get("/models").json() == [{"id": mid, "task": "object-detection", "backend": "transformers"}]
    uri = "data:image/png;base64," + base64.b64encode(media["image"].read_bytes()).decode()
    jarvis = client.post(f"/models/{mid}", json={"img_url": uri}).json()
    assert isinstance(jarvis, list)  # JARVIS shape for detection: the list of boxes
    lossless = decode_result(client.post(f"/models/{mid}", json={"img_url": uri},
                                         headers={LOSSLESS_HEADER: "1"}).json())
    assert [o.kind for o in lossless.outputs] == ["text", "image"]
    assert lossless.outputs[1].data[:4] == b"\x89PNG" and lossless.data["backend"] == "transformers"


def test_device_and_dtype_choice() -> None:
    import torch

    from hugginggpt.errors import ConfigError
    from hugginggpt.experts.hub.local import pick_device, pick_dtype

    assert pick_device("cpu") == "cpu" and pick_device("cuda:1") == "cuda:1"
    assert pick_device("auto") == "cuda" if torch.cuda.is_available() else pick_device("auto") in ("cpu", "mps")
    assert pick_dtype("auto", "cpu") is torch.float32
    assert pick_dtype("auto", "cuda") in (torch.bfloat16, torch.float16)
    assert pick_dtype("float16", "cpu") is torch.float16
    with pytest.raises(ConfigError):
        pick_dtype("float17", "cpu")


def test_backend_modules_import_without_the_heavy_stack() -> None:
    import subprocess
    import sys

    code = ("import sys, hugginggpt.backends.transformers, hugginggpt.backends.hf_inference, "
            "hugginggpt.backends.http, hugginggpt.server.models_server; "
            "print(sorted(m for m in ('torch', 'transformers', 'diffusers', 'fastapi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_transformers_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, make_agent) -> None:
    import importlib.util

    from hugginggpt.experts.hub import local

    real = importlib.util.find_spec
    def find_spec(name: str, *args: object) -> object:
        return None if name == "transformers" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    local.torch_stack.cache_clear()
    try:
        rows = diagnose(make_agent([]))["backends"]
        assert rows["transformers"]["available"] is False
        assert "transformers" in rows["transformers"]["reason"] and "hugginggpt[hub]" in rows["transformers"]["reason"]
        from hugginggpt.backends.transformers import TransformersBackend
        from hugginggpt.experts.pool import ExpertPool

        ok, why = TransformersBackend(ExpertPool()).can_serve(ModelCard(id="x", task="text-classification"))
        assert not ok and "transformers" in why
    finally:
        local.torch_stack.cache_clear()
