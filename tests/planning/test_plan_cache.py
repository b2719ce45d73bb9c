"""The plan cache (planning/plan_cache.py) over a fake OpenAI-compatible server on loopback (tests/openai_stub.py,
a test double that replays completions with their token usage): a repeated request is planned once, a repeat
spends no planning tokens and says so; a changed file byte under the same name, another model, another prompt
version or other earlier turns are misses; the offline planner is never wrapped, ``cache.plans: false`` turns the
plan cache off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from hugginggpt import HuggingGPT, HuggingGPTConfig
from hugginggpt.agent import plan_only
from hugginggpt.planning import plan_cache
from hugginggpt.planning.offline_planner import OfflinePlanner
from hugginggpt.planning.plan_cache import PLAN_CACHE_NOTE, CachedPlanner
from openai_stub import FakeOpenAIServer, completion

CLASSIFY = "Classify pic.png"
CLASSIFY_PLAN = json.dumps({"tasks": [{"task": "image-classification", "id": 0, "dep": [-1],
                                       "args": {"image": "pic.png"}}]})
SENTIMENT = "What is the sentiment of: I love this movie"
SENTIMENT_PLAN = json.dumps({"tasks": [{"task": "text-classification", "id": 0, "dep": [-1],
                                        "args": {"text": "I love this movie"}}]})


def draw(path: Path, shade: int = 200) -> Path:
    img = Image.new("RGB", (64, 64), (90, 140, 210))
    img.putpixel((0, 0), (shade, shade, shade))
    img.save(path)
    return path


@pytest.fixture
def pics(tmp_path: Path) -> Path:
    folder = tmp_path / "pics"
    folder.mkdir()
    draw(folder / "pic.png")
    return folder


@pytest.fixture
def fake():
    with FakeOpenAIServer([(200, completion(CLASSIFY_PLAN, prompt_tokens=700, completion_tokens=40))]) as server:
        yield server


def make_agent(ws: Path, pics: Path, url: str, model: str = "fake-planner", **settings: object) -> HuggingGPT:
    llm = {"backend": "openai", "base_url": url, "model": model, "api_key": "test"}
    return HuggingGPT(HuggingGPTConfig(workspace=ws, allowed_dirs=[pics], planner=settings.pop("planner", "llm"),
                                       llm=llm, **settings), base_dir=pics)


@pytest.mark.slow
def test_a_repeated_run_spends_no_planning_tokens(tmp_path):
    from hugginggpt.observability.metrics import CACHE_HITS

    replies = [(200, completion(SENTIMENT_PLAN, prompt_tokens=700, completion_tokens=40)),
               (200, completion("The sentiment is positive.", prompt_tokens=300, completion_tokens=10))]
    with FakeOpenAIServer(replies) as server:
        first = make_agent(tmp_path / "ws", tmp_path, server.url).run(SENTIMENT)
        asked = len(server.requests)
        hits = CACHE_HITS.labels(kind="plan")._value.get()
        second = make_agent(tmp_path / "ws", tmp_path, server.url).run(SENTIMENT)
        assert len(server.requests) == asked + 1  # the answer only: no planning call
    assert first.status == second.status == "succeeded"
    assert first.plan == second.plan and [t.task for t in second.plan] == ["text-classification"]
    assert first.usage["by_stage"]["plan"] == {"calls": 1, "prompt_tokens": 700, "completion_tokens": 40}
    assert "plan" not in second.usage["by_stage"]  # 0 planning tokens
    assert second.usage["total_tokens"] == first.usage["total_tokens"] - 740
    assert not any(n.startswith(PLAN_CACHE_NOTE) for n in first.plan_notes)
    assert f"{PLAN_CACHE_NOTE}: 0 planning tokens spent (740 saved)" in second.plan_notes
    assert CACHE_HITS.labels(kind="plan")._value.get() == hits + 1


@pytest.mark.slow
def test_a_changed_file_under_the_same_name_is_a_miss(pics, tmp_path, fake):
    ws = tmp_path / "ws"
    agent = make_agent(ws, pics, fake.url)
    plan = plan_only(agent, CLASSIFY)
    assert [t.task for t in plan.tasks] == ["image-classification"] and len(fake.requests) == 1
    assert plan_only(make_agent(ws, pics, fake.url), CLASSIFY) == plan and len(fake.requests) == 1
    draw(pics / "pic.png", shade=201)  # one pixel, same name
    plan_only(agent, CLASSIFY)
    assert len(fake.requests) == 2
    plan_only(agent, CLASSIFY)
    assert len(fake.requests) == 2  # the new bytes are cached in turn
    # An attached file is keyed by its bytes too.
    plan_only(agent, CLASSIFY, files=[pics / "pic.png"])
    assert len(fake.requests) == 3
    draw(pics / "pic.png", shade=5)
    plan_only(agent, CLASSIFY, files=[pics / "pic.png"])
    assert len(fake.requests) == 4


@pytest.mark.slow
def test_another_model_prompt_version_or_history_is_a_miss(pics, tmp_path, fake, monkeypatch):
    ws = tmp_path / "ws"
    plan_only(make_agent(ws, pics, fake.url), CLASSIFY)
    plan_only(make_agent(ws, pics, fake.url), CLASSIFY)
    assert len(fake.requests) == 1
    plan_only(make_agent(ws, pics, fake.url, model="another-model"), CLASSIFY)
    assert len(fake.requests) == 2 and fake.requests[-1]["model"] == "another-model"
    plan_only(make_agent(ws, pics, fake.url), CLASSIFY, history=[{"role": "user", "content": "hello"},
                                                                  {"role": "assistant", "content": "hi"}])
    assert len(fake.requests) == 3
    real = plan_cache.prompt_version
    monkeypatch.setattr(plan_cache, "prompt_version", lambda registry=None: "edited-" + real(registry))
    plan_only(make_agent(ws, pics, fake.url), CLASSIFY)
    assert len(fake.requests) == 4
    monkeypatch.setattr(plan_cache, "prompt_version", real)
    plan_only(make_agent(ws, pics, fake.url), CLASSIFY)
    assert len(fake.requests) == 4  # the original prompts: still cached


@pytest.mark.slow
def test_which_planners_are_cached(pics, tmp_path, fake):
    ws = tmp_path / "ws"
    for mode in ("llm", "hybrid"):
        planner = make_agent(ws, pics, fake.url, planner=mode).planner()
        assert isinstance(planner, CachedPlanner) and planner.inner.name == planner.name == mode
    assert isinstance(make_agent(ws, pics, fake.url, planner="offline").planner(), OfflinePlanner)
    off_ws = tmp_path / "off"
    for off in ({"plans": False}, "off"):
        agent = make_agent(off_ws, pics, fake.url, cache=off)
        assert not isinstance(agent.planner(), CachedPlanner)
        asked = len(fake.requests)
        plan_only(agent, CLASSIFY)
        plan_only(agent, CLASSIFY)
        assert len(fake.requests) == asked + 2
    assert not (off_ws / "cache").exists()
