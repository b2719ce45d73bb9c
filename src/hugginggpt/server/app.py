"""``create_app``: one FastAPI app with the JARVIS and OpenAI routes, runs, files, artifacts and the web UI."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..agent import HuggingGPT
from ..config import HuggingGPTConfig
from ..version import __version__
from . import errors
from .deps import ServerState
from .docs import install_docs
from .inputs import InputGate
from .login import LoginLimiter
from .routes_metrics import install_metrics
from .runs import RunManager
from .security import (
    SESSION_COOKIE,
    AuthMiddleware,
    SecurityHeadersMiddleware,
    add_body_caps,
    key_matches,
    session_token,
)
from .store import ServerDB
from .view import PublicView

log = logging.getLogger(__name__)

DESCRIPTION = """HuggingGPT as a service: the controller plans a DAG of tasks, selects expert models, runs them and
answers from the real outputs. JARVIS-compatible routes (`/hugginggpt`, `/tasks`, `/results`), OpenAI-compatible
chat completions (model `hugginggpt`), background runs with live SSE events, uploads and artifacts. Web UI: `/ui`."""


def build_agent(config: HuggingGPTConfig) -> HuggingGPT:
    """The server's agent: requests may read only the artifact store (uploads, earlier outputs) plus directories
    the configuration lists explicitly; URLs only if ``allow_urls``."""
    artifacts = config.workspace_path / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    allowed = [artifacts, *(Path(d).expanduser().resolve() for d in config.allowed_dirs)]
    return HuggingGPT(config.with_overrides(allowed_dirs=allowed), base_dir=artifacts)


def create_app(config: HuggingGPTConfig | None = None, agent: HuggingGPT | None = None) -> FastAPI:
    """The server app. ``agent`` defaults to a ``HuggingGPT`` built from ``config`` (see ``build_agent``)."""
    config = config or HuggingGPTConfig()
    settings = config.server
    agent = agent if agent is not None else build_agent(config)
    store = agent.store
    db = ServerDB(config.run_database)
    # A run left queued/running by an earlier process died with it (crash, SIGKILL): say so.
    stale = db.interrupt_unfinished("The server stopped while this run was in progress.")
    if stale:
        log.warning("marked %d unfinished run(s) from an earlier server process as interrupted", len(stale))
    view = PublicView(store.root)
    gate = InputGate(store, db, view, max_upload_mb=settings.max_upload_mb, allow_urls=agent.config.allow_urls,
                     max_history_turns=agent.config.max_history_turns,
                     max_history_chars=agent.config.max_history_chars)
    st = ServerState(config=config, settings=settings, agent=agent, db=db, view=view, gate=gate,
                     runs=RunManager(agent, db, view, max_concurrent=settings.max_concurrent_runs))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await st.runs.shutdown()

    # /docs is served by install_docs from packaged Swagger UI files (FastAPI's default loads them from a CDN,
    # which leaves the page blank offline); ReDoc has no packaged copy, so it is off.
    app = FastAPI(title="HuggingGPT", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.hg = st
    errors.install(app)
    from .routes_chat import router as chat_router
    from .routes_runs import router as runs_router

    app.include_router(chat_router)
    app.include_router(runs_router)
    install_metrics(app, st)
    install_docs(app)
    _login_routes(app, settings.api_key, LoginLimiter(settings.login_max_failures))
    if settings.api_key:
        _declare_bearer(app)

    if settings.ui:
        from .ui import mount_ui

        app = mount_ui(app, st)

    add_body_caps(app, max_upload_bytes=gate.max_bytes, max_body_bytes=int(settings.max_body_mb * 1024 * 1024))
    app.add_middleware(AuthMiddleware, api_key=settings.api_key)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
                           expose_headers=["X-HuggingGPT-Run"])
    return app


def _declare_bearer(app: FastAPI) -> None:
    """Put the bearer scheme in the OpenAPI schema (the "Authorize" button of /docs)."""
    from fastapi.openapi.utils import get_openapi

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "server.api_key"}}
            spec["security"] = [{"bearer": []}]
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _login_routes(app: FastAPI, api_key: str | None, limiter: LoginLimiter) -> None:
    """A tiny login page for the web UI when an API key is set (browsers cannot send a bearer header). Wrong keys
    are rate-limited per client address (``server.login_max_failures`` a minute), so the key cannot be guessed
    at network speed."""

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/" if app.state.hg.settings.ui else "/docs", status_code=307)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(_FAVICON, media_type="image/svg+xml")

    @app.get("/login", include_in_schema=False)
    async def login_page(error: str | None = None) -> HTMLResponse:
        msg = '<p class="err">Wrong key.</p>' if error else ""
        return HTMLResponse(_LOGIN.replace("{msg}", msg))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request, key: Annotated[str, Form()]) -> Response:
        client = request.client.host if request.client else "?"
        wait = limiter.retry_after(client)
        if wait:
            return HTMLResponse(_LOGIN.replace("{msg}", f'<p class="err">Too many wrong keys: try again in {wait} s.'
                                                        "</p>"), status_code=429,
                                headers={"Retry-After": str(wait)})
        if not api_key or not key_matches(key, api_key):
            limiter.failed(client)
            return RedirectResponse("/login?error=1", status_code=303)
        limiter.succeeded(client)
        resp = RedirectResponse("/ui/", status_code=303)
        resp.set_cookie(SESSION_COOKIE, session_token(api_key), httponly=True, samesite="strict", path="/")
        return resp

    @app.get("/logout", include_in_schema=False)
    async def logout() -> Response:
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp



_FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="12" cy="12" r="11" '
            'fill="#fbbf24"/><circle cx="8.5" cy="10" r="1.6"/><circle cx="15.5" cy="10" r="1.6"/></svg>')
_LOGIN = """<!doctype html><html><head><meta charset="utf-8"><title>HuggingGPT - sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;background:#f6f7fb;display:grid;place-items:center;height:100vh;margin:0}
form{background:#fff;padding:2rem 2.5rem;border-radius:14px;box-shadow:0 6px 30px #0001;min-width:320px}
h1{font-size:1.3rem;margin:0 0 1rem}input{width:100%;padding:.6rem;border:1px solid #ccd;border-radius:8px;
box-sizing:border-box;margin:.4rem 0 1rem}button{width:100%;padding:.6rem;border:0;border-radius:8px;
background:#4f46e5;color:#fff;font-weight:600;cursor:pointer}.err{color:#b91c1c}</style></head>
<body><form method="post" action="/login"><h1>HuggingGPT</h1>{msg}<label>API key
<input type="password" name="key" autofocus required></label><button type="submit">Sign in</button></form>
</body></html>"""


def serve(config: HuggingGPTConfig | None = None, host: str | None = None, port: int | None = None,
          log_level: str = "info") -> None:
    """Run the app with uvicorn (one process: runs are tracked in memory as well as in SQLite)."""
    import uvicorn

    from ..observability.tracing import setup_tracing

    config = config or HuggingGPTConfig()
    setup_tracing(config.tracing)  # the tracing section or OTEL_* variables (docs/observability.md)
    app = create_app(config)
    uvicorn.run(app, host=host or config.server.host, port=port or config.server.port, log_level=log_level,
                timeout_graceful_shutdown=10)
