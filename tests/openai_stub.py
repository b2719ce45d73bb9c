"""A fake OpenAI-compatible endpoint on loopback for tests: a stdlib HTTP server that answers every POST from a
script of ``(status, body)`` replies and records what it was sent.

Not a model: it replays the bodies a real server sends (a complete, looping or cut-off chat completion, an error
status), so the OpenAI-compatible client's HTTP, retry and ``finish_reason`` plumbing is exercised over real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stub_http import serve_in_thread, stop

# One scripted reply: an HTTP status and a JSON body, raw bytes sent as they are (a broken body), or ``None`` for an
# empty body.
Reply = tuple[int, dict[str, Any] | bytes | None]


def completion(text: str, finish_reason: str = "stop", *, model: str = "fake", prompt_tokens: int = 50,
               completion_tokens: int = 20) -> dict[str, Any]:
    """The body of a chat completion whose one choice is ``text``, ended for ``finish_reason``."""
    return {"id": "x", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": finish_reason,
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


class FakeOpenAIServer:
    """A fake OpenAI-compatible endpoint on 127.0.0.1 (a test double).

    Each POST gets the next reply of ``replies``; the last one is repeated once the others are used up. Given
    ``respond`` instead, each POST gets ``respond(request body)``. The JSON request bodies are kept in ``requests``
    and the request paths in ``paths``. ``url`` ends in ``/v1``, as a client's base URL does.
    """

    def __init__(self, replies: Sequence[Reply] = (), *,
                 respond: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        if not replies and respond is None:
            raise ValueError("FakeOpenAIServer needs at least one reply")
        self.replies: list[Reply] = list(replies)
        self.respond = respond or self._next_reply
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server calls it by this name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.paths.append(self.path)
                try:
                    request = json.loads(raw or b"{}")
                except ValueError:  # a non-JSON body is still a request made; keep the count right
                    request = {}
                fake.requests.append(request)
                status, body = fake.respond(request)
                data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = serve_in_thread(self.httpd)

    def _next_reply(self, request: dict[str, Any]) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    @classmethod
    def answering(cls, text: str, finish_reason: str = "stop", **usage: Any) -> FakeOpenAIServer:
        """A fake that answers every chat completion with ``text``, ended for ``finish_reason``."""
        return cls([(200, completion(text, finish_reason, **usage))])

    def close(self) -> None:
        stop(self.httpd, self.thread)

    def __enter__(self) -> FakeOpenAIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# What ``fake_servers`` yields: makes a fake from its replies.
MakeFake = Callable[[Sequence[Reply]], FakeOpenAIServer]


def fake_servers() -> Iterator[MakeFake]:
    """Body of a pytest fixture (``yield from fake_servers()``): yields a maker of fakes and closes them all after."""
    made: list[FakeOpenAIServer] = []

    def make(replies: Sequence[Reply]) -> FakeOpenAIServer:
        made.append(FakeOpenAIServer(replies))
        return made[-1]

    yield make
    for server in made:
        server.close()
