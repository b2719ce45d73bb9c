"""Backends decide which catalog models can run here and build their experts (the ``Backend`` protocol of
``base``).

``embedded``: experts whose weights ship in installed packages. ``llm``: the controller LLM doing a text task itself.
The hub backends: ``transformers`` (local transformers/diffusers pipelines), ``hf_inference`` (hosted inference),
``http`` (model servers); ``modes`` builds them from the config and orders all backends for an ``inference_mode``.
Their per-task code is expert code, in ``experts/hub``.
"""

from .base import Backend
from .embedded import EmbeddedBackend
from .llm import LLMBackend

__all__ = ["Backend", "EmbeddedBackend", "LLMBackend"]
