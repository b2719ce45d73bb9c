"""``GET /metrics``: Prometheus metrics of this server (docs/observability.md). Behind the API key like every route
but ``/healthz`` and the login page."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from ..observability.metrics import CONTENT_TYPE, ServerMetrics
from .deps import ServerState


def install_metrics(app: FastAPI, st: ServerState) -> ServerMetrics:
    """Count the runs of ``st.runs`` from their events, watch its queue and the agent's expert pool, and serve
    them all (with the process-wide LLM token and cache counters) at ``/metrics``."""
    metrics = ServerMetrics()
    st.runs.observers.append(metrics.observe)
    metrics.watch_runs(lambda: st.runs.active)
    pool: Any = getattr(st.agent, "pool", None)
    if pool is not None and hasattr(pool, "stats"):
        metrics.watch_pool(pool)
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:  # sync: reading the pool's memory is a file read, off the event loop
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return metrics
