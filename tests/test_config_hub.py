"""The hub settings: the ``hub`` section, and the older top-level spelling of its fields from every source."""

from __future__ import annotations

from pathlib import Path

import pytest

from hugginggpt.config import HUB_FIELDS, HubSettings, HuggingGPTConfig


@pytest.fixture
def in_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    names = [f"HUGGINGGPT_{prefix}{f.upper()}" for prefix in ("", "HUB__") for f in HUB_FIELDS]
    for name in [*names, "HUGGINGGPT_CONFIG"]:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_defaults_are_the_section_defaults(in_dir: Path) -> None:
    assert HuggingGPTConfig().hub == HubSettings()
    assert not any(hasattr(HuggingGPTConfig(), f) for f in HUB_FIELDS)


def test_section_and_top_level_spellings_in_yaml(in_dir: Path) -> None:
    (in_dir / "hugginggpt.yaml").write_text("device: cuda\nhf_timeout: 5\nhub:\n  dtype: float16\n  device: cpu\n")
    hub = HuggingGPTConfig().hub
    assert (hub.device, hub.dtype, hub.hf_timeout) == ("cuda", "float16", 5.0)  # one source, both: top level wins


def test_environment_both_spellings_and_precedence(in_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (in_dir / "hugginggpt.yaml").write_text("device: cuda\nhub:\n  max_new_tokens: 9\n")
    monkeypatch.setenv("HUGGINGGPT_HF_TOKEN", "tok")
    monkeypatch.setenv("HUGGINGGPT_HUB__MAX_NEW_TOKENS", "7")
    monkeypatch.setenv("HUGGINGGPT_DEVICE", "mps")
    hub = HuggingGPTConfig().hub
    assert (hub.hf_token, hub.max_new_tokens, hub.device) == ("tok", 7, "mps")  # the environment beats the file
    monkeypatch.setenv("HUGGINGGPT_HUB__DEVICE", "cpu")
    assert HuggingGPTConfig().hub.device == "cpu"  # HUB__ beats the top-level variable


def test_arguments_and_overrides(in_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUGGINGGPT_HUB__DEVICE", "cpu")
    config = HuggingGPTConfig(device="cuda:1", hub={"dtype": "bfloat16"}, diffusion_steps=3)
    assert (config.hub.device, config.hub.dtype, config.hub.diffusion_steps) == ("cuda:1", "bfloat16", 3)
    assert config.with_overrides(hf_status_ttl=1.5).hub.hf_status_ttl == 1.5
    assert config.with_overrides(hf_status_ttl=1.5).hub.device == "cuda:1"
    assert HuggingGPTConfig.model_validate(config.model_dump()).hub == config.hub
    with pytest.raises(ValueError):
        HuggingGPTConfig(diffusion_steps=0)
