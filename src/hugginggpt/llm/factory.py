"""Build the controller LLM from the settings (``llm:`` section of the config)."""

from __future__ import annotations

from ..config import LLMSettings
from ..errors import ConfigError
from .base import LLM


def build_llm(settings: LLMSettings) -> LLM:
    """The configured controller LLM client. Nothing is loaded or contacted until the first call.

    ``embedded``: llama.cpp over ``gguf_path`` (default: the packaged SmolLM2, not capable unless ``capable: true``).
    ``openai``: any OpenAI-compatible endpoint at ``base_url`` (default: OpenAI), capable unless ``capable: false``.
    """
    if settings.backend == "embedded":
        from .embedded import EmbeddedLLM

        return EmbeddedLLM(settings.gguf_path, capable=settings.capable, n_ctx=settings.n_ctx,
                           n_threads=settings.n_threads, temperature=settings.temperature,
                           max_tokens=settings.max_tokens)
    if settings.backend == "openai":
        from .openai_compat import OpenAICompatible

        return OpenAICompatible(settings.base_url, settings.api_key, settings.model, capable=settings.capable,
                                timeout=settings.timeout, max_retries=settings.max_retries,
                                temperature=settings.temperature, max_tokens=settings.max_tokens)
    raise ConfigError(f"Unknown LLM backend {settings.backend!r}.", hint="Set llm.backend to `embedded` or `openai`.")
