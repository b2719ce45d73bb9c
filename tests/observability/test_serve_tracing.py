"""``python -m hugginggpt.server`` configured only by its settings (``HUGGINGGPT_TRACING__*``, as the tracing:
section): a run through the HTTP API exports its whole trace to a real OTLP/HTTP receiver on loopback, and the
server's /metrics counts it."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from hugginggpt.server.launch import free_port, spawn_server, stop_server
from server.conftest import SENTIMENT, wait_run

from .test_metrics_server import scrape, value

# A server process (imports, the sentiment expert) and one run: seconds, more on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_served_run_is_traced_and_counted(tmp_path: Path, otlp_receiver) -> None:
    port = free_port()
    env = {k: "" for k in os.environ if k.startswith("OTEL_")}
    env.update(HF_HUB_OFFLINE="1", HUGGINGGPT_TRACING__EXPORTER="otlp-http",
               HUGGINGGPT_TRACING__ENDPOINT=otlp_receiver.url, HUGGINGGPT_TRACING__SERVICE_NAME="hg-server",
               OTEL_BSP_SCHEDULE_DELAY="100")
    proc = spawn_server(port, tmp_path / "ws", log=tmp_path / "server.log", env=env, cwd=tmp_path)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            run_id = c.post("/v1/runs", json={"request": SENTIMENT}).json()["id"]
            run = wait_run(c, run_id)
            assert run["status"] == "succeeded", run
            metrics = scrape(c.get("/metrics").text)
        assert value(metrics, "hugginggpt_runs_total", status="succeeded") == 1
        assert value(metrics, "hugginggpt_tasks_total", task="text-classification", status="ok") == 1
        root = otlp_receiver.wait_for("hugginggpt.run")[0]
        otlp_receiver.wait_for("hugginggpt.stage.respond")
        spans = [s for s in otlp_receiver.spans() if s["trace_id"] == root["trace_id"]]
        names = {s["name"] for s in spans}
        assert {"hugginggpt.stage.plan", "hugginggpt.stage.select", "hugginggpt.stage.execute",
                "hugginggpt.stage.respond", "hugginggpt.expert"} <= names
        assert all(s["service"] == "hg-server" for s in spans)
        expert = next(s for s in spans if s["name"] == "hugginggpt.expert")
        assert expert["attributes"]["hugginggpt.model_id"] == run["results"][0]["model"]["model_id"]
    finally:
        stop_server(proc)
