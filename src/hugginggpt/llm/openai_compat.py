"""A controller LLM behind any OpenAI-compatible chat API (OpenAI, Azure, vLLM, Ollama, llama.cpp server, TGI).

Structured output: ``response_format={"type": "json_schema"}`` first; servers that reject it get
``{"type": "json_object"}`` and then a plain request (the schema is then only in the prompt). The mode that worked is
remembered, so the fallback costs one failed request per client, not per call.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ..errors import LLMAuthError, LLMQuotaError, LLMResponseError, LLMTruncated, LLMUnavailable
from .base import ChatResult, Usage
from .embedded import json_schema_response_format

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"  # used only against OpenAI itself when llm.model is not set
_TRANSIENT_STATUS = (408, 409)  # request timeout, conflict: worth another try, like 429 and 5xx
_SCHEMA_MODES = ("json_schema", "json_object", "plain")
_UNREADABLE = (json.JSONDecodeError, UnicodeDecodeError)  # a body the client cannot decode (an HTML page, not UTF-8)
T = TypeVar("T")


class OpenAICompatible:
    """Chat completions over HTTP with retries, typed errors and JSON-schema constrained output.

    Attributes:
        usage: token accounting of every call made through this client, by stage (its lifetime total). Each
            ``ChatResult`` also carries its own token counts, which is what per-run accounting adds up
            (``llm.tracking.TrackedLLM``).
    """

    name = "openai"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, model: str | None = None, *,
                 capable: bool | None = None, timeout: float = 120.0, max_retries: int = 2,
                 temperature: float = 0.0, max_tokens: int = 512, backoff: float = 1.0) -> None:
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        # Local servers (llama.cpp, vLLM, Ollama) accept any key; the client library insists on one.
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or "no-key"
        self._has_key = bool(api_key or os.environ.get("OPENAI_API_KEY"))
        self._model = model
        self.capable = True if capable is None else bool(capable)
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.backoff = backoff
        self.usage = Usage()
        self._schema_mode = _SCHEMA_MODES[0]
        self._client: Any = None
        self._lock = threading.Lock()  # guards lazy construction only; calls run concurrently

    # -- plumbing ----------------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``openai.OpenAI`` client, built on first use (importing openai takes a moment)."""
        with self._lock:
            if self._client is None:
                import openai

                # Retries are ours (typed errors, logging), so the library's own are off.
                self._client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key, timeout=self.timeout,
                                             max_retries=0)
            return self._client

    @property
    def model(self) -> str:
        """The model name sent to the server; when not configured, the server's first listed model (OpenAI itself
        lists hundreds, so there the default is a small chat model)."""
        if self._model is None and self.base_url == DEFAULT_BASE_URL:
            self._model = DEFAULT_OPENAI_MODEL
        if self._model is None:
            try:
                models = self._call(lambda: self.client.models.list())
                self._model = next(iter(m.id for m in models.data), None) or "default"
            except LLMResponseError:  # a server without /models (404) still serves chat
                self._model = "default"
        return self._model

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one request with retries on timeouts, connection resets, 429 and 5xx; map errors to ours."""
        import openai

        attempt = 0
        while True:
            try:
                return fn()
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                hint = ("Set llm.api_key (env HUGGINGGPT_LLM__API_KEY or OPENAI_API_KEY)." if not self._has_key
                        else "Check llm.api_key and that it may use this model.")
                raise LLMAuthError(f"The LLM server at {self.base_url} refused the credentials "
                                   f"({exc.status_code}): {_message(exc)}", hint=hint) from exc
            except openai.APIConnectionError as exc:
                # APITimeoutError is a subclass; a refused connection will not heal by retrying quickly, but a
                # timeout or a dropped connection may.
                refused = _is_refused(exc)
                if refused or attempt >= self.max_retries:
                    what = "refused the connection" if refused else f"did not answer ({type(exc).__name__})"
                    raise LLMUnavailable(f"The LLM server at {self.base_url} {what}.",
                                         hint="Start the server or fix llm.base_url; raise llm.timeout for slow "
                                              "servers.") from exc
            except openai.RateLimitError as exc:
                if attempt >= self.max_retries:
                    raise LLMQuotaError(f"The LLM server at {self.base_url} keeps answering 429 (rate limit or "
                                        f"quota) after {attempt + 1} attempts: {_message(exc)}",
                                        hint="Wait and retry, raise llm.max_retries, or check the account's "
                                             "quota.") from exc
            except openai.APIStatusError as exc:
                transient = exc.status_code >= 500 or exc.status_code in _TRANSIENT_STATUS
                if not transient or attempt >= self.max_retries:
                    raise LLMResponseError(f"The LLM server at {self.base_url} answered {exc.status_code}: "
                                           f"{_message(exc)}", hint=_status_hint(exc.status_code)) from exc
            except (*_UNREADABLE, openai.APIResponseValidationError) as exc:
                raise self._bad_body(exc) from exc
            attempt += 1
            delay = self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random())
            log.warning("LLM request failed; retrying", extra={"attempt": attempt, "delay_s": round(delay, 2),
                                                               "base_url": self.base_url})
            time.sleep(delay)

    def _bad_body(self, exc: Exception) -> LLMResponseError:
        """The error for an answer whose body is no chat completion: a proxy's HTML error page sent with 200, bytes
        that are not UTF-8, JSON of another shape."""
        what = {json.JSONDecodeError: "is not JSON", UnicodeDecodeError: "is not UTF-8 text"}.get(
            type(exc), "does not have the shape of an OpenAI response")
        return LLMResponseError(f"The LLM server at {self.base_url} sent a body that {what} ({str(exc)[:120]}).",
                                hint="Check llm.base_url: it must be the OpenAI-compatible API (it usually ends in "
                                     "/v1), not a web page; a proxy in between may be answering with an error page.")

    # -- calls -------------------------------------------------------------------------------------------------

    def chat(self, messages: list[dict[str, str]], *, json_schema: dict[str, Any] | None = None,
             max_tokens: int | None = None, temperature: float | None = None, stage: str = "other") -> ChatResult:
        """One chat completion; with ``json_schema`` the output is constrained where the server supports it."""
        import openai

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
        }
        if json_schema is None:
            return self._complete(kwargs, stage)
        first_error: LLMResponseError | None = None
        for mode in _SCHEMA_MODES[_SCHEMA_MODES.index(self._schema_mode):]:
            if mode == "json_schema":
                kwargs["response_format"] = json_schema_response_format(json_schema)
            elif mode == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
            else:
                kwargs.pop("response_format", None)
            try:
                result = self._complete(kwargs, stage)
            except LLMResponseError as exc:
                rejected = isinstance(exc.__cause__, (openai.BadRequestError, openai.UnprocessableEntityError))
                if not rejected:
                    raise
                first_error = first_error or exc
                log.warning("LLM server rejected the request with response_format; trying a weaker form",
                            extra={"mode": mode, "base_url": self.base_url})
                continue
            # Remembered only once a weaker mode has worked: a 400 for another reason (e.g. a prompt too long)
            # must not downgrade structured output for later calls.
            self._schema_mode = mode
            return result
        assert first_error is not None
        raise first_error

    def _complete(self, kwargs: dict[str, Any], stage: str) -> ChatResult:
        response = self._call(lambda: self.client.chat.completions.create(**kwargs))
        try:
            choice = response.choices[0]
            text = choice.message.content
        except (AttributeError, IndexError, TypeError) as exc:
            raise LLMResponseError(f"The LLM server at {self.base_url} sent a response without a message.") from exc
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        self.usage.add(prompt, completion, stage)
        if not text or not text.strip():
            # A model that spends its whole budget before answering (hidden reasoning, a long preamble) ends with
            # finish_reason "length" and no text: a distinct error, so callers can ask again with a larger limit.
            error = LLMTruncated if choice.finish_reason == "length" else LLMResponseError
            raise error(f"The LLM server at {self.base_url} returned an empty answer "
                        f"(finish_reason={choice.finish_reason!r}).",
                        hint="Raise llm.max_tokens, or check the model name.")
        return ChatResult(text=text, prompt_tokens=prompt, completion_tokens=completion,
                          model=getattr(response, "model", "") or kwargs["model"], finish_reason=choice.finish_reason)

    def stream_chat(self, messages: list[dict[str, str]], *, max_tokens: int | None = None,
                    temperature: float | None = None, stage: str = "other") -> Iterator[str]:
        """Yield the answer's text deltas as the server sends them (usage recorded when the server reports it)."""
        kwargs: dict[str, Any] = {
            "model": self.model, "messages": messages, "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature, "stream": True,
            "stream_options": {"include_usage": True},
        }
        stream = self._call(lambda: self.client.chat.completions.create(**kwargs))
        try:
            for chunk in stream:
                for choice in chunk.choices or []:
                    delta = getattr(choice.delta, "content", None)
                    if delta:
                        yield delta
                if getattr(chunk, "usage", None):
                    self.usage.add(int(chunk.usage.prompt_tokens or 0),
                                 int(chunk.usage.completion_tokens or 0), stage)
        except _UNREADABLE as exc:  # a stream's event that is no JSON
            raise self._bad_body(exc) from exc
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    def describe(self, probe: bool = True) -> dict[str, Any]:
        """Facts for ``hugginggpt doctor``; with ``probe``, one quick ``GET /models`` tells whether the server is up
        and accepts the key (no tokens are spent)."""
        info: dict[str, Any] = {
            "backend": "openai", "base_url": self.base_url, "model": self._model or "(first model of the server)",
            "capable": self.capable, "api_key": "set" if self._has_key else "not set", "timeout": self.timeout,
            "max_retries": self.max_retries, "structured_output": self._schema_mode,
            "available": True, "reason": "not checked",
        }
        if probe:
            info.update(self._probe())
        return info

    def _probe(self) -> dict[str, Any]:
        import openai

        try:
            quick = self.client.with_options(timeout=min(self.timeout, 5.0), max_retries=0)
            models = [m.id for m in quick.models.list().data]
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            return {"available": False, "reason": f"the server refused the credentials ({exc.status_code})"}
        except openai.APIConnectionError as exc:
            return {"available": False, "reason": f"cannot reach {self.base_url} ({type(exc).__name__})"}
        except openai.APIStatusError as exc:
            if exc.status_code == 404:  # some servers have no /models but serve chat
                return {"available": True, "reason": "server answers (no /models endpoint)"}
            return {"available": False, "reason": f"GET /models answered {exc.status_code}"}
        return {"available": True, "reason": f"server answers; {len(models)} model(s)", "server_models": models[:5]}


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]


def _is_refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError) or "refused" in str(cur).lower():
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _status_hint(status: int) -> str | None:
    return {400: "The server rejected the request; check llm.model and the server's supported options.",
            404: "Check llm.base_url (it usually ends in /v1) and llm.model.",
            413: "The prompt is too long for the server; shorten the request."}.get(status)
