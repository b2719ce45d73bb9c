"""The HTTP server: JARVIS-compatible and OpenAI-compatible routes, runs with live events, uploads, artifacts and
the web UI, all on one FastAPI app (``create_app``). Heavy imports happen on first use."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
