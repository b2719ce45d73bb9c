"""An agent over the example inputs (``examples/make_examples.py``), generated into a fresh folder by the test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hugginggpt import HuggingGPT, HuggingGPTConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


def example_agent(tmp_path_factory: pytest.TempPathFactory) -> HuggingGPT:
    """A default agent whose base and only allowed folder hold freshly made example inputs, with its own workspace."""
    from make_examples import main as make_examples

    inputs = tmp_path_factory.mktemp("inputs")
    make_examples(inputs)
    ws = tmp_path_factory.mktemp("ws")
    return HuggingGPT(HuggingGPTConfig(workspace=ws, allowed_dirs=[inputs]), base_dir=inputs)
