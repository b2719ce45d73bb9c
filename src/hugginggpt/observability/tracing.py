"""OpenTelemetry tracing: one process-wide TracerProvider, configured from the ``tracing:`` section or the
standard OTEL_* variables, exporting to the console (stderr), OTLP over HTTP or OTLP over gRPC.

With no exporter configured nothing is installed: code that makes spans gets the API's no-op tracer (no span
objects, no attribute work when callers check ``span.is_recording()``).

Span names (docs/observability.md): ``hugginggpt.run`` > ``hugginggpt.stage.<plan|select|execute|respond>`` >
``hugginggpt.task`` > ``hugginggpt.expert`` and ``hugginggpt.llm``. Trace context crosses processes as W3C
``traceparent`` headers: ``inject_context()`` on the sending side, ``attach_context(carrier)`` on the receiving one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from ..version import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ..config import TracingSettings

log = logging.getLogger(__name__)

TRACER_NAME = "hugginggpt"
EXPORTERS = ("console", "otlp-http", "otlp-grpc")

_lock = threading.Lock()
_router: _Router | None = None  # the span processor of our provider (None: no provider installed by us)
_configured: tuple[Any, ...] | None = None  # the settings the current exporters were made from
_include_content = False


def get_tracer() -> trace.Tracer:
    """The project's tracer (a no-op one while no provider is installed; it follows a provider set later)."""
    return trace.get_tracer(TRACER_NAME)


def tracing_enabled() -> bool:
    """Whether a provider that records spans is installed (by ``setup_tracing`` or the test helper)."""
    return _router is not None and bool(_router.processors)


def content_enabled() -> bool:
    """Whether prompts and LLM outputs may be put on spans (``tracing.include_content``)."""
    return _include_content


def setup_tracing(settings: TracingSettings | None = None, *, console_out: IO[str] | None = None) -> bool:
    """Configure tracing from ``settings`` (the ``tracing:`` section) and the OTEL_* variables; returns whether
    spans are exported.

    The exporter is ``settings.exporter`` unless that is ``none``, else ``OTEL_TRACES_EXPORTER`` (``otlp`` with
    ``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`` ``http/protobuf`` (default) or ``grpc``, ``console``, ``none``). The
    endpoint is ``settings.endpoint``, else what the OTLP exporters read themselves
    (``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``). ``OTEL_SERVICE_NAME`` overrides ``settings.service_name``.
    ``OTEL_SDK_DISABLED=true`` turns everything off. Idempotent: the same settings again change nothing; other
    settings replace the exporters (the service name of the first provider stays)."""
    global _configured, _include_content
    from ..config import TracingSettings

    settings = settings or TracingSettings()
    names = _exporter_names(settings)
    service = os.environ.get("OTEL_SERVICE_NAME") or settings.service_name
    key = (tuple(names), settings.endpoint, service, id(console_out) if console_out else None)
    with _lock:
        _include_content = settings.include_content
        if key == _configured:
            return bool(names)
        if not names and _router is None:
            _configured = key
            return False  # nothing configured: leave the API's no-op tracer in place
        exporters = [_make_exporter(name, settings.endpoint, console_out) for name in names]
        router = _ensure_provider(service)
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        old = router.configured
        router.configured = tuple(BatchSpanProcessor(e) for e in exporters)
        _configured = key
    for p in old:
        p.shutdown()  # flushes what the replaced exporters still held
    if names:
        log.info("tracing: exporting spans to %s as service %r", ", ".join(names), service)
    return bool(names)


def install_memory_exporter() -> InMemorySpanExporter:
    """For tests: install the provider if needed and add an in-memory exporter fed synchronously (every span is
    in ``exporter.get_finished_spans()`` as soon as it ends). Remove it with ``reset_tracing()``."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    with _lock:
        router = _ensure_provider(os.environ.get("OTEL_SERVICE_NAME") or TRACER_NAME)
        router.extra = (*router.extra, SimpleSpanProcessor(exporter))
    return exporter


def reset_tracing() -> None:
    """Flush and remove every exporter (configured and test ones); the provider stays, recording nothing."""
    global _configured, _include_content
    with _lock:
        if _router is None:
            _configured, _include_content = None, False
            return
        old = (*_router.configured, *_router.extra)
        _router.configured, _router.extra = (), ()
        _configured, _include_content = None, False
    for p in old:
        p.shutdown()


def force_flush(timeout_millis: int = 10_000) -> bool:
    """Export what the batch processors hold now (e.g. before a short-lived process exits)."""
    return _router.force_flush(timeout_millis) if _router is not None else True


# ----- context propagation ------------------------------------------------------------------------------------
def inject_context(carrier: dict[str, str] | None = None) -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``, ``tracestate``, ``baggage``), added to
    ``carrier`` if given. Empty when no span is active (tracing off)."""
    carrier = {} if carrier is None else carrier
    propagate.inject(carrier)
    return carrier


def extract_context(carrier: Mapping[str, str]) -> otel_context.Context:
    """The trace context sent in ``carrier`` (headers of a request, a dict from ``inject_context``)."""
    return propagate.extract(carrier)


@contextlib.contextmanager
def attach_context(carrier: Mapping[str, str] | None) -> Iterator[otel_context.Context]:
    """Make the context sent in ``carrier`` current for the block, so spans made in it join the sender's trace."""
    ctx = extract_context(carrier or {})
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)


# ----- internals ----------------------------------------------------------------------------------------------
def _exporter_names(settings: TracingSettings) -> list[str]:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    if settings.exporter != "none":
        return [settings.exporter]
    names: list[str] = []
    for raw in os.environ.get("OTEL_TRACES_EXPORTER", "").split(","):
        name = raw.strip().lower()
        if name in ("", "none"):
            continue
        if name == "otlp":
            protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip().lower()
            if protocol not in ("grpc", "http/protobuf"):
                log.warning("tracing: OTLP protocol %r is not supported here; using http/protobuf", protocol)
            name = "otlp-grpc" if protocol == "grpc" else "otlp-http"
        if name not in EXPORTERS:
            log.warning("tracing: OTEL_TRACES_EXPORTER=%s is not supported (console, otlp, none); ignored", raw)
            continue
        if name not in names:
            names.append(name)
    return names


def _http_traces_url(endpoint: str) -> str:
    """An OTLP/HTTP base URL (as OTEL_EXPORTER_OTLP_ENDPOINT) or a full traces URL → the traces URL."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def _make_exporter(name: str, endpoint: str | None, console_out: IO[str] | None) -> SpanExporter:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        # stderr: stdout carries the command's own output (``hugginggpt run --json``)
        return ConsoleSpanExporter(out=console_out or sys.stderr)
    if name == "otlp-http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPExporter

        return HTTPExporter(endpoint=_http_traces_url(endpoint) if endpoint else None)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCExporter

    return GRPCExporter(endpoint=endpoint)


def _ensure_provider(service: str) -> _Router:
    """Our provider, installed globally the first time (under ``_lock``)."""
    global _router
    if _router is not None:
        return _router
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider


    router = _Router()
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):  # the application installed its own SDK provider: feed that one
        current.add_span_processor(router)  # type: ignore[arg-type]
    else:
        resource = Resource.create({"service.name": service, "service.version": __version__})
        trace.set_tracer_provider(TracerProvider(resource=resource, active_span_processor=router))  # type: ignore[arg-type]
    _router = router
    return router


class _Router:
    """The provider's span processor: forwards to the configured exporters' processors and the test ones, which
    can be replaced at any time (the SDK has no way to remove a processor from a provider)."""

    def __init__(self) -> None:
        self.configured: tuple[SpanProcessor, ...] = ()
        self.extra: tuple[SpanProcessor, ...] = ()

    @property
    def processors(self) -> tuple[SpanProcessor, ...]:
        return (*self.configured, *self.extra)

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        for p in self.processors:
            p.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for p in self.processors:
            p.on_end(span)

    def shutdown(self) -> None:
        for p in self.processors:
            p.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self.processors)
