"""``GET /metrics`` on a real server on loopback: counters and histograms after real runs (offline planner,
embedded experts), the queue and pool gauges, the process-wide LLM and cache counters, and the API key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hugginggpt.config import HuggingGPTConfig
from hugginggpt.experts.pool import EvictionRecord, ExpertPool
from hugginggpt.observability.metrics import ServerMetrics, record_cache
from hugginggpt.server.app import build_agent, create_app
from server.conftest import SENTIMENT, LiveServer, wait_run

KEY = "metrics-key"


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a Prometheus text exposition: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_agent(HuggingGPTConfig(workspace=tmp_path_factory.mktemp("metrics-ws")))


def _server(tmp_path: Path, agent: Any, **server: Any) -> LiveServer:
    config = HuggingGPTConfig(workspace=tmp_path / "ws", server={"ui": False, **server})
    return LiveServer(create_app(config, agent=agent))


@pytest.fixture
def live(tmp_path: Path, agent: Any) -> Iterator[LiveServer]:
    with _server(tmp_path, agent) as server:
        yield server


@pytest.mark.slow
def test_metrics_after_a_run(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=120) as c:
        before = scrape(c.get("/metrics").text)
        record_cache(True, "result")
        record_cache(False, "plan")
        run_id = c.post("/v1/runs", json={"request": SENTIMENT}).json()["id"]
        run = wait_run(c, run_id)
        assert run["status"] == "succeeded", run
        model = run["results"][0]["model"]["model_id"]
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = scrape(r.text)
    assert value(after, "hugginggpt_runs_total", status="succeeded") == 1
    assert value(after, "hugginggpt_tasks_total", task="text-classification", status="ok") == 1
    assert value(after, "hugginggpt_task_duration_seconds_count", task="text-classification", model=model) == 1
    assert value(after, "hugginggpt_task_duration_seconds_sum", task="text-classification", model=model) > 0
    assert value(after, "hugginggpt_run_duration_seconds_count", status="succeeded") == 1
    for stage in ("plan", "select", "execute", "respond"):
        assert value(after, "hugginggpt_stage_duration_seconds_count", stage=stage) == 1, stage
    assert value(after, "hugginggpt_runs_in_flight") == 0 and value(after, "hugginggpt_run_queue_depth") == 0
    # the expert pool: the process's measured memory, its budget, the sentiment expert loaded
    assert value(after, "hugginggpt_expert_pool_memory_bytes") > 50 * 1024 * 1024
    assert value(after, "hugginggpt_expert_pool_budget_bytes") > 0
    assert value(after, "hugginggpt_expert_pool_loaded_experts") >= 1
    assert ("hugginggpt_expert_pool_evictions_total", frozenset()) in after
    # process-wide counters are served too
    assert value(after, "hugginggpt_cache_hits_total", kind="result") == value(
        before, "hugginggpt_cache_hits_total", kind="result") + 1
    assert value(after, "hugginggpt_cache_misses_total", kind="plan") == value(
        before, "hugginggpt_cache_misses_total", kind="plan") + 1
    assert value(after, "process_resident_memory_bytes") > 0


def test_metrics_need_the_key(tmp_path: Path, agent: Any) -> None:
    with _server(tmp_path, agent, api_key=KEY) as live, httpx.Client(base_url=live.url, timeout=30) as c:
        r = c.get("/metrics")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200 and "hugginggpt_runs_in_flight 0.0" in ok.text


def test_queue_gauges_and_failed_tasks_from_events() -> None:
    m = ServerMetrics(process=False)
    active = [3]
    m.watch_runs(lambda: active[0])
    m.observe("a", {"kind": "run", "status": "running", "at": 10.0})
    m.observe("a", {"kind": "stage", "stage": "select", "status": "done", "at": 10.5,
                    "data": {"choices": {"0": {"model_id": "m/one"}, "1": {"code": "no_model"}}}})
    m.observe("a", {"kind": "task", "status": "running", "task_id": 0, "task": "image-to-text", "at": 10.6})
    m.observe("a", {"kind": "task", "status": "failed", "task_id": 0, "task": "image-to-text",
                    "data": {"seconds": 2.0}, "at": 12.6})
    m.observe("a", {"kind": "task", "status": "skipped", "task_id": 1, "task": "text-to-speech",
                    "data": {"seconds": None}, "at": 12.6})
    s = scrape(m.exposition().decode())
    assert value(s, "hugginggpt_runs_in_flight") == 1 and value(s, "hugginggpt_run_queue_depth") == 2
    assert value(s, "hugginggpt_tasks_total", task="image-to-text", status="failed") == 1
    assert value(s, "hugginggpt_tasks_total", task="text-to-speech", status="skipped") == 1
    assert value(s, "hugginggpt_task_duration_seconds_sum", task="image-to-text", model="m/one") == 2.0
    assert value(s, "hugginggpt_task_duration_seconds_count", task="text-to-speech", model="none") == 0
    m.observe("a", {"kind": "answer", "status": "failed", "at": 13.0})
    active[0] = 0
    s = scrape(m.exposition().decode())
    assert value(s, "hugginggpt_runs_in_flight") == 0 and value(s, "hugginggpt_run_queue_depth") == 0
    assert value(s, "hugginggpt_runs_total", status="failed") == 1
    assert value(s, "hugginggpt_run_duration_seconds_sum", status="failed") == 3.0


def test_evictions_keep_counting_past_the_pool_record_limit() -> None:
    pool = ExpertPool(100, rss=lambda: 42.0)
    m = ServerMetrics(process=False)
    m.watch_pool(pool)

    def evictions() -> float:
        return value(scrape(m.exposition().decode()), "hugginggpt_expert_pool_evictions_total")

    assert evictions() == 0
    for i in range(900):
        pool.evictions.append(EvictionRecord(f"m{i}", 120.0, 90.0))
    assert evictions() == 900
    for i in range(600):  # the pool's deque keeps the last 1000 records
        pool.evictions.append(EvictionRecord(f"n{i}", 120.0, 90.0))
    assert len(pool.evictions) == 1000 and evictions() == 1500
    s = scrape(m.exposition().decode())
    assert value(s, "hugginggpt_expert_pool_memory_bytes") == 42.0 * 1024 * 1024
    assert value(s, "hugginggpt_expert_pool_budget_bytes") == 100 * 1024 * 1024
