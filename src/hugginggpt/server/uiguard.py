"""The rules for requests to the web UI's own routes (Gradio, mounted at ``/ui``), applied by an ASGI wrapper around
the mounted Gradio app.

- **Gradio's programmatic API is off.** ``/ui/gradio_api/call|api|run/...``, ``/info``, the Gradio OpenAPI schema
  and MCP answer 404: programs use the documented HTTP API (``/v1/runs``, ``/v1/chat/completions``), which needs
  the bearer key when one is set. (The cookie does not even get that far: see ``security.is_ui_api``.)
- **Only the UI's own page may call it.** A request that carries an ``Origin`` other than the server's own (or one
  in ``server.cors_origins``) is refused, whatever its method: Gradio's own CORS layer would otherwise echo any
  origin with credentials whenever the server is reached by a name other than localhost.
- **The session cookie works only from a browser.** With an API key set, a request that changes something (POST
  and the like) and is authenticated by the cookie alone must carry the browser's same-origin ``Origin`` header; a
  program holding a copied cookie gets a 403 telling it to use the bearer key.
- **Errors are answered, not dropped.** An exception inside Gradio becomes a JSON 500 in the server's error shape,
  and the connection stays usable (Starlette would send plain text and re-raise, and uvicorn then closes it).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body
from .security import bearer_ok, is_ui_api

log = logging.getLogger(__name__)
_SAFE = ("GET", "HEAD", "OPTIONS")


def _netloc(host: str, scheme: str | None = None) -> str:
    """``host[:port]`` in lower case, without the scheme's default port (both defaults when it is not known)."""
    host = host.strip().lower()
    defaults = {"http": (":80",), "https": (":443",)}.get(scheme or "", (":80", ":443"))
    for suffix in defaults:
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


async def ui_internal_error(request: Request, exc: Exception) -> Response:
    """The Gradio app's handler for unhandled exceptions: logged with the traceback, answered in the server's JSON
    error shape (Gradio's default is a plain-text ``Internal Server Error``)."""
    log.error("web UI request %s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", f"The web UI could not handle this request "
                                   f"({type(exc).__name__}).", "See the server log; reload the page to retry."),
                        status_code=500)


class UIGuard:
    """Wraps the mounted Gradio app; see the module docstring for the rules."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, cors_origins: list[str] | None = None) -> None:
        self.app = app
        self.key = api_key
        self.origins = {o.rstrip("/").lower() for o in cors_origins or []}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        started = finished = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if finished:  # answered by ui_internal_error; re-raising would make uvicorn close the connection
                return
            if started:  # a stream broke half-way: nothing better can be sent than an end to it
                raise
            log.error("web UI request %s failed", scope.get("path"), exc_info=exc)
            await JSONResponse(error_body("internal_error", f"The web UI could not handle this request "
                                          f"({type(exc).__name__}).", "See the server log."), 500)(
                scope, receive, send)

    def refusal(self, scope: Scope) -> Response | None:
        """The response that refuses this request, or None when it may go on to Gradio."""
        path = scope.get("path", "")
        if is_ui_api(path):
            return _refuse(404, "not_found", "The web UI's Gradio API is turned off on this server.",
                           "Programs use the HTTP API: POST /v1/runs or /v1/chat/completions (see /docs), with "
                           "'Authorization: Bearer <key>' when the server has an API key.")
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        unsafe = scope.get("method", "GET") not in _SAFE
        if origin is not None and not self._same_origin(origin, headers):
            return _refuse(403, "forbidden", "Requests from another site to the web UI are refused.",
                           "Open the UI from this server's own address.")
        if origin is None and unsafe and headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return _refuse(403, "forbidden", "Requests from another site to the web UI are refused.",
                           "Open the UI from this server's own address.")
        if self.key and unsafe and origin is None and not self._bearer(headers):
            return _refuse(403, "forbidden", "The UI session cookie works only in the web UI in a browser.",
                           "Programs send 'Authorization: Bearer <key>' to the HTTP API (see /docs).")
        return None

    def _same_origin(self, origin: str, headers: Headers) -> bool:
        """Whether ``origin`` is this server as the browser sees it: the ``Host`` header, or the host a reverse
        proxy forwarded (``X-Forwarded-Host``; a page on another site cannot add that header without a preflight,
        and preflights from other sites are refused), or an origin listed in ``server.cors_origins``."""
        if origin.rstrip("/").lower() in self.origins:
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (sandboxed frames, files) and anything odd is another site
        hosts = [headers.get("host", ""), headers.get("x-forwarded-host", "").split(",")[0]]
        return _netloc(parts.netloc, parts.scheme) in {_netloc(h) for h in hosts if h.strip()}

    def _bearer(self, headers: Headers) -> bool:
        return bearer_ok(headers.get("authorization", ""), self.key)


def _refuse(status: int, code: str, message: str, hint: str) -> Response:
    return JSONResponse(error_body(code, message, hint), status_code=status)


def guard_mounted_ui(app: Any, path: str, *, api_key: str | None, cors_origins: list[str] | None) -> None:
    """Put ``UIGuard`` around the Gradio app mounted at ``path`` on ``app`` and give Gradio the JSON 500 handler."""
    from starlette.routing import Mount

    for route in app.router.routes:
        if isinstance(route, Mount) and route.path == path:
            gradio_app: Any = route.app  # gradio.routes.App, a FastAPI app
            gradio_app.add_exception_handler(Exception, ui_internal_error)
            route.app = UIGuard(gradio_app, api_key=api_key, cors_origins=cors_origins)
            return
    raise RuntimeError(f"no app mounted at {path}")  # a wiring bug, not a user error
