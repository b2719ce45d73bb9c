"""Fixtures of the evaluation tests: a small typed tool list (TaskBench's resource-domain shape)."""

from __future__ import annotations

import pytest

from hugginggpt.eval.tools import ToolList, ToolSpec


def make_tools() -> ToolList:
    """Five tools with hand-picked types, so the expected argument names are easy to compute by hand."""
    return ToolList([
        ToolSpec("Image-to-Text", "Caption an image.", ("image",), ("text",)),
        ToolSpec("Text-to-Speech", "Speak a text.", ("text",), ("audio",)),
        ToolSpec("Translation", "Translate a text.", ("text",), ("text",)),
        ToolSpec("Object Detection", "Find objects.", ("image",), ("image",)),
        ToolSpec("Image Classification", "Label an image.", ("image",), ("text",)),
        ToolSpec("Automatic Speech Recognition", "Transcribe speech.", ("audio",), ("text",)),
    ], domain="toy")


@pytest.fixture
def tools() -> ToolList:
    return make_tools()
