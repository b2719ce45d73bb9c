"""Server settings: the ``server:`` section of the configuration (env ``HUGGINGGPT_SERVER__*``).

Kept free of heavy imports: ``hugginggpt.config`` imports this module.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class ServerSettings(BaseModel):
    """How ``hugginggpt serve`` listens, who may call it and what it may read."""

    host: str = Field("127.0.0.1", description="Interface to listen on. Loopback by default; 0.0.0.0 exposes it.")
    port: int = Field(8004, description="TCP port (JARVIS's server mode uses 8004).")
    api_key: str | None = Field(
        None, description="When set, every route needs `Authorization: Bearer <key>` (the web UI asks for it once "
                          "and keeps a session cookie). Prefer the env var HUGGINGGPT_SERVER__API_KEY.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser (CORS). Empty: closed.")
    max_upload_mb: float = Field(25.0, description="Size cap of one uploaded file (POST /v1/files, UI uploads).")
    max_body_mb: float = Field(
        40.0, gt=0, description="Size cap of any other request body (JSON, the UI's own requests), counted as "
                                "it arrives and refused with 413 before parsing. Keep it above max_upload_mb: "
                                "inline (base64) files and UI uploads come through it.")
    login_max_failures: int = Field(
        10, ge=1, description="Wrong keys one client address may send to /login per minute; more get 429.")
    database: Path | None = Field(None, description="SQLite file for runs, events and conversations; default "
                                                    "<workspace>/server.sqlite3.")
    max_concurrent_runs: int = Field(4, description="Runs executing at once; later ones wait as `queued`.")
    ui: bool = Field(True, description="Mount the web UI (Gradio) at /ui.")
    ui_llm_settings: bool = Field(
        False, description="Let web-UI users point their session at another OpenAI-compatible LLM endpoint (the "
                           "server then calls it). Takes effect only when `api_key` is set, and only for the "
                           "endpoints listed in `ui_llm_allowlist`.")
    ui_llm_allowlist: list[str] = Field(
        default_factory=list, description="Base URLs (e.g. `http://127.0.0.1:11434/v1`) a UI session may choose "
                                          "when `ui_llm_settings` is on; any other URL is refused.")
