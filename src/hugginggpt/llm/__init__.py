"""Controller LLM clients behind one protocol."""

from .base import LLM, ChatResult, Usage

__all__ = ["LLM", "ChatResult", "Usage"]
