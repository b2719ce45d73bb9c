"""Controller LLM clients behind one protocol."""

from .base import LLM, ChatResult, Usage, record_usage, usage_scope

__all__ = ["LLM", "ChatResult", "Usage", "record_usage", "usage_scope"]
