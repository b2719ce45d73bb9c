"""Errors as JSON ``{"error": {"type", "code", "message", "hint"}}`` with the right HTTP status, never 200."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors as hge
from ..errors import HuggingGPTError, error_class
from ..results import ErrorInfo

log = logging.getLogger(__name__)

# HuggingGPTError class -> HTTP status. Errors of the request are 4xx; of the server or an upstream, 5xx. A
# subclass defined anywhere (e.g. a planner's own PlanError) gets the status of its nearest listed ancestor.
_BY_CLASS: dict[type[HuggingGPTError], int] = {
    hge.RequestError: 400, hge.RequestTooLarge: 413, hge.ResourceError: 400, hge.MediaTooLarge: 413,
    hge.ResourceAccessDenied: 403, hge.PlanError: 422, hge.ModelSelectionError: 422, hge.InternalError: 500,
    hge.StorageError: 507,
    hge.ConfigError: 500, hge.ExpertError: 502, hge.ExpertInputError: 400, hge.ExpertUnavailable: 503,
    hge.TaskTimeout: 504, hge.LLMError: 502, hge.LLMUnavailable: 503, hge.LLMQuotaError: 429,
}
# Codes of the server's own errors (not HuggingGPTError classes).
_BY_CODE: dict[str, int] = {
    "bad_request": 400, "bad_json": 400, "not_found": 404, "unauthorized": 401, "forbidden": 403,
    "payload_too_large": 413, "unsupported_media": 415, "rate_limited": 429, "interrupted": 503,
    "internal_error": 500,
}


class APIError(Exception):
    """An HTTP error raised by a route; rendered like every other error."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None,
                 headers: dict[str, str] | None = None, type_: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint, self.headers = status, code, message, hint, headers
        self.type = type_ or code

    @classmethod
    def from_info(cls, info: ErrorInfo) -> APIError:
        return cls(status_of(info.code, info.message, info.type), info.code, info.message, info.hint,
                   type_=info.type)


def status_of(code: str, message: str = "", type_name: str | None = None) -> int:
    """HTTP status for an error (by its code or class name); a refused resource (``ResourceAccessDenied``: outside
    the allowed places, URLs off, private host) is 403."""
    cls = error_class(code, type_name)
    if cls is not None:
        for klass in cls.__mro__:
            if klass in _BY_CLASS:
                return _BY_CLASS[klass]
    return _BY_CODE.get(code, 500)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: Any, scope: MutableMapping[str, Any]) -> list[str]:
    """Every method some route of ``app`` serves at the scope's path: each method is tried against the routes as
    the router would try it (mounted apps answer their own 405s and are left out)."""
    from starlette.routing import Match, Mount

    routes = [r for r in getattr(app, "routes", []) if not isinstance(r, Mount)]
    return [m for m in _METHODS if any(r.matches({**scope, "method": m})[0] == Match.FULL for r in routes)]


def error_body(code: str, message: str, hint: str | None = None, type_: str | None = None,
               **extra: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"type": type_ or code, "code": code, "message": message, "hint": hint}
    err.update(extra)
    return {"error": err}


def _where(loc: tuple[Any, ...]) -> str:
    """Where a schema error is: ``messages.0.content`` in the body, ``query parameter limit``, ``header x``."""
    if loc[:1] in (("query",), ("path",), ("header",), ("cookie",)) and len(loc) > 1:
        kind = "header" if loc[0] == "header" else f"{loc[0]} parameter"
        return f"{kind} {'.'.join(str(p) for p in loc[1:])}"
    return ".".join(str(p) for p in loc if p != "body") or "body"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the JSON error shape."""

    @app.exception_handler(APIError)
    async def _api(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.hint, exc.type), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(HuggingGPTError)
    async def _hg(request: Request, exc: HuggingGPTError) -> JSONResponse:
        view = getattr(getattr(request.app.state, "hg", None), "view", None)
        message, hint = (view.text(exc.message), view.text(exc.hint or "") or None) if view else (exc.message,
                                                                                                   exc.hint)
        return JSONResponse(error_body(exc.code, message, hint, type(exc).__name__),
                            status_code=status_of(exc.code, exc.message, type(exc).__name__))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        broken = next((e for e in errors if e.get("type") == "json_invalid" or (
            tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), (bytes, str)))), None)
        if broken is not None:
            why = (broken.get("ctx") or {}).get("error")
            return JSONResponse(error_body("bad_json", "The request body is not valid JSON" + (f" ({why})." if why
                                                                                                 else "."),
                                           "Send a JSON object with Content-Type: application/json."), 400)
        detail = "; ".join(f"{_where(tuple(e.get('loc', ())))}: {e.get('msg')}" for e in errors[:5])
        what = "request body" if all(tuple(e.get("loc", ("body",)))[:1] == ("body",) for e in errors) else "request"
        return JSONResponse(error_body("invalid_request", f"The {what} does not match the schema: {detail}.",
                                       "See /docs for the request schema.",
                                       details=[{"loc": list(e.get("loc", ())), "msg": e.get("msg")}
                                                for e in errors]), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
                413: "payload_too_large", 429: "rate_limited"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message, hint = "No such route.", "See /docs for the routes."
        else:
            hint = None
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette's Allow names only the first route that matched the path; a path served by several
            # routes (GET and POST /v1/runs) allows the methods of all of them.
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope)) or headers.get("Allow", "")
        return JSONResponse(error_body(code, message, hint), status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal_error", f"Internal error: {type(exc).__name__}.",
                                       "See the server log."), 500)
