"""Which backends serve experts, in which order, for each ``inference_mode`` (as JARVIS's local/huggingface/hybrid).

The selector asks backends in order and takes the first that can serve a card, so order is preference:

- ``local``: model servers (``http``), local hub models (``transformers``), ``embedded``, the controller ``llm``;
- ``hybrid``: the same, then hosted inference (``hf-inference``) for what nothing local can run;
- ``huggingface``: hosted inference and the controller LLM only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import HuggingGPTConfig
from ..experts.pool import ExpertPool
from .base import Backend
from .hf_inference import HFInferenceBackend
from .http import HTTPBackend
from .transformers import TransformersBackend


def build_hub_backends(config: HuggingGPTConfig, pool: ExpertPool) -> dict[str, Backend]:
    """The three hub backends built from the config (cheap: nothing is loaded or contacted here)."""
    return {"transformers": TransformersBackend.from_config(pool, config),
            "hf-inference": HFInferenceBackend.from_config(config),
            "http": HTTPBackend.from_config(config)}


def _has_servers(backend: Backend) -> bool:
    """Whether this is the http backend with at least one model server configured."""
    return isinstance(backend, HTTPBackend) and bool(backend.servers)


def arrange(mode: str, hub: Mapping[str, Backend], embedded: Backend, llm: Backend) -> list[Backend]:
    """The backends to use, best first, for ``mode``."""
    servers = [hub["http"]] if _has_servers(hub["http"]) else []
    if mode == "huggingface":
        return [hub["hf-inference"], llm]
    local = [*servers, hub["transformers"], embedded, llm]
    if mode == "hybrid":
        return [*local, hub["hf-inference"]]
    return local


def hub_status(mode: str, hub: Mapping[str, Backend], in_use: list[Backend]) -> dict[str, dict[str, Any]]:
    """Doctor rows for the hub backends: availability, reason, and whether the mode uses them."""
    used = {b.name for b in in_use}
    out: dict[str, dict[str, Any]] = {}
    for name, backend in hub.items():
        ok, reason = backend.status()
        if name not in used and not (name == "http" and not _has_servers(backend)):
            reason = f"{reason} (not used with inference_mode: {mode})"
        out[name] = {"available": ok, "reason": reason, "in_use": name in used}
    return out
