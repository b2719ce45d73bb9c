"""ASGI middleware: API-key check on every route, upload size cap before parsing, and a few safe headers.

Pure ASGI (not BaseHTTPMiddleware) so streaming responses pass through untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "hugginggpt_session"
PUBLIC_PATHS = ("/login", "/logout", "/favicon.ico")
# Paths a browser session (cookie from /login) may read besides /ui: the media the UI shows and the API docs. The
# API itself wants the bearer header, so a cookie can never be used cross-site to start runs.
COOKIE_PREFIXES = ("/v1/artifacts/", "/docs", "/openapi.json")
# Gradio's programmatic API under /ui (named endpoints, their schema, MCP): the cookie does not open these, only the
# bearer key does, and the UI guard (server/uiguard.py) turns them off for everyone.
UI_API_PREFIXES = ("/ui/gradio_api/call/", "/ui/gradio_api/api/", "/ui/gradio_api/run/", "/ui/gradio_api/info",
                   "/ui/gradio_api/openapi.json", "/ui/gradio_api/mcp", "/ui/openapi.json", "/ui/docs",
                   "/ui/gradio_api/runs", "/ui/gradio_api/run-history")
_UI_API_EXACT = frozenset(p.rstrip("/") for p in UI_API_PREFIXES)


def is_ui_api(path: str) -> bool:
    """Whether ``path`` is one of Gradio's programmatic API routes under /ui (repeated slashes folded first)."""
    while "//" in path:
        path = path.replace("//", "/")
    return path.startswith(UI_API_PREFIXES) or path.rstrip("/") in _UI_API_EXACT


def session_token(api_key: str) -> str:
    """The cookie value: derived from the key, so the key itself is never stored in the browser."""
    return hmac.new(api_key.encode(), b"hugginggpt-ui-session", hashlib.sha256).hexdigest()


def _json(status: int, code: str, message: str, hint: str | None, headers: list[tuple[bytes, bytes]] | None = None
          ) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"error": {"type": code, "code": code, "message": message, "hint": hint}}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]
    return {"type": "http.response.start", "status": status, "headers": hdrs}, body


async def _send_json(send: Send, status: int, code: str, message: str, hint: str | None = None,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    start, body = _json(status, code, message, hint, headers)
    await send(start)
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """When an API key is configured, every request needs ``Authorization: Bearer <key>``; the web UI and the
    artifacts it shows also accept the session cookie set by ``/login``."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.key = api_key
        self.token = session_token(api_key) if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] not in ("http", "websocket") or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = dict(scope.get("headers") or [])
        wants_html = b"text/html" in headers.get(b"accept", b"")
        if path.startswith("/ui") and scope.get("method") == "GET" and wants_html:
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", b"/login?next=/ui/"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await _send_json(send, 401, "unauthorized", "Missing or wrong API key.",
                         "Send 'Authorization: Bearer <key>' (the server's server.api_key).",
                         [(b"www-authenticate", b'Bearer realm="hugginggpt"')])

    def _allowed(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        if path in PUBLIC_PATHS:
            return True
        headers = dict(scope.get("headers") or [])
        if bearer_ok(headers.get(b"authorization", b"").decode("latin-1"), self.key):
            return True
        # The UI posts to its own routes; the other cookie paths are read-only.
        cookie_ok = (path.startswith("/ui") and not is_ui_api(path)) or (
            path.startswith(COOKIE_PREFIXES) and scope.get("method") in ("GET", "HEAD"))
        if cookie_ok and self.token:
            jar = SimpleCookie()
            try:
                jar.load(headers.get(b"cookie", b"").decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
                return False
            morsel = jar.get(SESSION_COOKIE)
            return morsel is not None and hmac.compare_digest(morsel.value.encode(), self.token.encode())
        return False


class BodyCapMiddleware:
    """Caps request bodies before anything parses them (JSON bodies; multipart parsing would spool to disk first).

    ``applies(scope)`` picks the requests it guards, ``max_bytes`` is their cap and ``refusal`` the 413's message
    and hint. A declared ``Content-Length`` over the cap is refused at once; a chunked body is counted as it arrives
    and refused as soon as it passes the cap, so memory stays within the cap whatever the client sends (a 300 MB
    JSON body used to be parsed whole). The body read so far is replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, applies: Callable[[Scope], bool],
                 refusal: tuple[str, str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.applies = applies
        self.message, self.hint = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        total, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":  # the client left mid-body: nothing to answer
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        del chunks  # the joined copy is all that is kept while the app runs
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        await _send_json(send, 413, "payload_too_large", self.message, self.hint, [(b"connection", b"close")])


UPLOAD_PATHS = ("/v1/files",)
_ENVELOPE = 64 * 1024  # room for the multipart envelope around an uploaded file


def add_body_caps(app: Any, *, max_upload_bytes: int, max_body_bytes: int) -> None:
    """The upload route's cap (``server.max_upload_mb``) and every other body's (``server.max_body_mb``)."""
    app.add_middleware(
        BodyCapMiddleware, max_bytes=max_upload_bytes + _ENVELOPE,
        applies=lambda scope: scope.get("method") == "POST" and scope.get("path") in UPLOAD_PATHS,
        refusal=(f"The upload is larger than {max_upload_bytes / 1048576:.1f} MB.",
                 "Send a smaller file or raise server.max_upload_mb."))
    app.add_middleware(
        BodyCapMiddleware, max_bytes=max_body_bytes,
        applies=lambda scope: (scope.get("method") in ("POST", "PUT", "PATCH", "DELETE")
                               and scope.get("path") not in UPLOAD_PATHS),
        refusal=(f"The request body is larger than {max_body_bytes / 1048576:.1f} MB (server.max_body_mb).",
                 "Send a smaller body: upload files with POST /v1/files and name them, or raise server.max_body_mb."))


def key_matches(candidate: str, api_key: str | None) -> bool:
    """Whether ``candidate`` is the API key (constant-time); never with no key configured."""
    return bool(api_key) and hmac.compare_digest(candidate.strip().encode(), str(api_key).encode())


def bearer_ok(authorization: str, api_key: str | None) -> bool:
    """Whether an ``Authorization`` header value carries the API key as a bearer token."""
    return authorization[:7].lower() == "bearer " and key_matches(authorization[7:], api_key)


class SecurityHeadersMiddleware:
    """``nosniff`` everywhere and no framing by other sites."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                hdrs = list(message.get("headers") or [])
                names = {k.lower() for k, _ in hdrs}
                for k, v in ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"SAMEORIGIN"),
                             (b"referrer-policy", b"same-origin")):
                    if k not in names:
                        hdrs.append((k, v))
                message = {**message, "headers": hdrs}
            await send(message)

        await self.app(scope, receive, send_with_headers)
