"""Routes whose JSON bodies are parsed in a worker thread.

A body may be up to ``server.max_body_mb`` (40 MB by default: inline base64 files); ``json.loads`` of that takes
about 0.25 s, which on the event loop would stall every other request. FastAPI's "custom Request and APIRoute
class" recipe moves the parse to a thread; validation of the parsed body stays where FastAPI does it (it is cheap
once parsed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.routing import APIRoute

_SMALL = 64 * 1024  # below this, a thread hop costs more than the parse
_parse = json.loads


def _decode(body: bytes) -> Any:
    """The parsed body. A body the decoder cannot read for another reason than its syntax (bytes that are not
    UTF-8, arrays nested past the recursion limit) is a ``JSONDecodeError`` too, so that FastAPI answers it as it
    answers broken JSON (``bad_json``) instead of with its generic "error parsing the body"."""
    try:
        return _parse(body)
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"not UTF-8 at byte {exc.start}", "", 0) from None
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None


class ThreadedJSONRequest(Request):
    """A request whose ``json()`` parses large bodies off the event loop."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = _decode(body) if len(body) < _SMALL else await anyio.to_thread.run_sync(_decode, body)
        return self._json


class OffLoopJSONRoute(APIRoute):
    """An ``APIRoute`` that hands its endpoint a ``ThreadedJSONRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            return await handler(ThreadedJSONRequest(request.scope, request.receive))

        return route_handler
