"""Tracing (OpenTelemetry) and metrics (Prometheus) of runs, stages, tasks, expert and LLM calls.

See docs/observability.md. Nothing here records anything until ``setup_tracing`` is given an exporter (or the
OTEL_* variables name one); the metrics are always counted and served by the server at ``/metrics``.
"""

from __future__ import annotations

from .tracing import (
    TRACER_NAME,
    attach_context,
    content_enabled,
    extract_context,
    get_tracer,
    inject_context,
    install_memory_exporter,
    reset_tracing,
    setup_tracing,
    tracing_enabled,
)

__all__ = ["TRACER_NAME", "attach_context", "content_enabled", "extract_context", "get_tracer", "inject_context",
           "install_memory_exporter", "reset_tracing", "setup_tracing", "tracing_enabled"]
