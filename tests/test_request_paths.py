"""Requests that name a file outside the allowed places ("describe /etc/shadow") end in ResourceAccessDenied naming
the rule, before any planning; requests that name allowed files, URLs or slash-words are untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from hugginggpt import HuggingGPT, HuggingGPTConfig
from hugginggpt.agent import plan_only
from hugginggpt.errors import RequestError, ResourceAccessDenied
from hugginggpt.plan_schema import Plan
from hugginggpt.planning.base import PlanContext, PlanOutcome
from hugginggpt.resources import path_tokens
from llm_doubles import ScriptedLLM


class RecordingPlanner:
    """Plans nothing (chit-chat) and records what it was asked: a refused request must never reach it."""

    name = "recording"

    def __init__(self) -> None:
        self.requests: list[str] = []

    def plan(self, request: str, context: PlanContext) -> PlanOutcome:
        self.requests.append(request)
        return PlanOutcome(plan=Plan(tasks=[]), planner=self.name)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[HuggingGPT, RecordingPlanner, ScriptedLLM, Path]:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    Image.new("RGB", (8, 8), "green").save(allowed / "photo.png")
    (tmp_path / "outside").mkdir()
    Image.new("RGB", (8, 8), "red").save(tmp_path / "outside" / "secret.png")
    planner, llm = RecordingPlanner(), ScriptedLLM(*["A chat answer."] * 20, capable=False)
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path / "ws", allowed_dirs=[allowed]), llm=llm,
                       planner=planner, base_dir=allowed)
    return agent, planner, llm, tmp_path


@pytest.mark.parametrize("request_text", [
    "describe /etc/shadow", "what is in /etc/passwd?", "describe ~/secret.png", "Describe ../outside/secret.png",
    "summarize file:///etc/passwd", "classify the image '/etc/ssl/private/key.png'", "read /root/.ssh/id_rsa aloud",
    "describe /etc/no-such-file-here",
])
def test_outside_paths_are_refused_before_planning(setup, request_text):
    agent, planner, llm, _ = setup
    result = agent.run(request_text)
    assert result.error is not None and result.error.type == "ResourceAccessDenied", result
    assert result.error.code == "resource_forbidden"
    assert "outside the allowed directories" in result.error.message and "allowed_dirs" in result.error.hint
    assert planner.requests == [] and llm.calls == []  # no made-up chit-chat answer
    assert result.status == "failed"


def test_the_refusal_does_not_reveal_whether_the_file_exists(setup):
    agent, _, _, root = setup
    exists = agent.run(f"describe {root}/outside/secret.png").error
    missing = agent.run(f"describe {root}/outside/nothing.png").error
    assert exists is not None and missing is not None
    assert exists.type == missing.type == "ResourceAccessDenied" and exists.hint == missing.hint
    assert exists.message.replace("secret", "X") == missing.message.replace("nothing", "X")


@pytest.mark.parametrize("request_text", [
    "describe photo.png", "describe /photo.png", "what is 1/2 and/or 3/4?", "any news on /r/python today?",
    "look at https://example.com/a/b/c.png", "the ratio km/h vs m/s", "describe ./photo.png",
])
def test_ordinary_requests_are_untouched(setup, request_text):
    agent, planner, _, _ = setup
    result = agent.run(request_text)
    assert result.error is None, result.error
    assert planner.requests == [request_text]


def test_allowed_absolute_paths_and_attached_files_pass(setup):
    agent, planner, _, root = setup
    assert agent.run(f"describe {root}/allowed/photo.png").error is None
    secret = root / "outside" / "secret.png"
    attached = agent.run(f"describe {secret}", files=[secret])  # the user attached it: allowed
    assert attached.error is None, attached.error
    assert len(planner.requests) == 2


def test_path_tokens():
    assert path_tokens("describe /etc/shadow, then ~/a.png and ../x/y.jpg.") == ["/etc/shadow", "~/a.png",
                                                                                "../x/y.jpg"]
    assert path_tokens("see https://x.org/a/b.png or /r/python and and/or 1/2") == []
    assert path_tokens("file:///etc/passwd") == ["/etc/passwd"]
    assert path_tokens("(/secret.png)") == ["/secret.png"]


@pytest.mark.parametrize("name", ["a\x00.png", "\ud800.png", "x" * 5000 + ".png"])
def test_unusable_attached_names_are_named_errors(setup, name):
    agent, planner, _, _ = setup
    result = agent.run("describe this", files=[name])
    assert result.error is not None and result.error.type == "ResourceError", result.error
    assert "not a valid file name" in result.error.message and planner.requests == []


def test_over_http_an_outside_path_is_403_whether_or_not_it_exists(tmp_path):
    from fastapi.testclient import TestClient

    from hugginggpt.server.app import create_app

    app = create_app(HuggingGPTConfig(workspace=tmp_path / "ws", server={"ui": False}))
    secret = tmp_path / "secret.png"
    Image.new("RGB", (8, 8), "red").save(secret)
    bodies = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in (secret, tmp_path / "nothing.png", "/etc/shadow", "/etc/no-such-file"):
            r = client.post("/hugginggpt", json={"messages": [{"role": "user", "content": f"describe {path}"}]})
            assert r.status_code == 403, r.text
            error = r.json()["error"]
            assert error["code"] == "resource_forbidden" and "outside the allowed directories" in error["message"]
            bodies.append((error["message"].replace(str(path), "X"), error["hint"]))
    assert len(set(bodies)) == 1, bodies


@pytest.mark.parametrize(("request_text", "cleaned"), [
    ("describe photo.png \ud800", "describe photo.png \ufffd"), ("a\x00b", "a b"),
    ("\x1b[2J clear my screen", "[2J clear my screen")])
def test_requests_with_characters_that_are_not_text_are_cleaned_before_planning(setup, request_text, cleaned):
    """A lone surrogate used to fail inside the MiniLM tokenizer (an internal error); NUL and escapes likewise. They
    are valid in a JSON string, so they are cleaned, not refused."""
    agent, planner, _, _ = setup
    result = agent.run(request_text, history=[{"role": "user", "content": request_text}])
    assert result.error is None, result.error
    assert planner.requests == [cleaned]
    assert "\ud800" not in result.model_dump_json()  # the run's own copy of the request is cleaned too
    plan_only(agent, request_text)  # planned, not refused
    assert planner.requests == [cleaned, cleaned]
    with pytest.raises(RequestError):
        plan_only(agent, "\x00\x01 ")  # nothing left once cleaned: empty


def test_plan_only_refuses_outside_paths_like_run(setup):
    agent, planner, _, _ = setup
    with pytest.raises(ResourceAccessDenied):
        plan_only(agent, "describe /etc/shadow")
    assert planner.requests == []
