"""Fixtures of the hub backend tests: tiny offline models, media files, a fixed-plan planner, an agent factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

from hugginggpt.agent import HuggingGPT
from hugginggpt.config import HuggingGPTConfig
from planner_doubles import FixedPlanner


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny(tiny_root: Path) -> Callable[[str], Path]:
    from hub.tiny_models import build

    return lambda task: build(task, tiny_root)


@pytest.fixture()
def media(tmp_path: Path) -> dict[str, Path]:
    """A drawn photo-like PNG and a 1 s speech-band WAV, inside the agent's base directory."""
    import soundfile as sf

    img = Image.new("RGB", (96, 64), (40, 120, 200))
    ImageDraw.Draw(img).ellipse((20, 10, 70, 55), fill=(230, 180, 40))
    img.save(tmp_path / "photo.png")
    sr = 16000
    t = np.arange(sr) / sr
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)
    sf.write(tmp_path / "speech.wav", wave.astype(np.float32), sr)
    return {"image": tmp_path / "photo.png", "audio": tmp_path / "speech.wav"}


AgentFactory = Callable[..., HuggingGPT]


@pytest.fixture()
def make_agent(tmp_path: Path) -> AgentFactory:
    """``make_agent(plan, cards=[{id, task, path}], **config)`` → a HuggingGPT whose catalog has the cards (as a user
    catalog_file) and whose planner returns ``plan``."""

    def make(plan: list[dict[str, Any]], cards: list[dict[str, Any]] | None = None, **config: Any) -> HuggingGPT:
        if cards:
            catalog = tmp_path / "models.yaml"
            catalog.write_text(yaml.safe_dump(cards), encoding="utf-8")
            config.setdefault("catalog_file", catalog)
        config.setdefault("workspace", tmp_path / "ws")
        config.setdefault("allowed_dirs", [tmp_path])
        config.setdefault("device", "cpu")
        return HuggingGPT(HuggingGPTConfig(**config), planner=FixedPlanner(plan), base_dir=tmp_path)

    return make
