"""The web UI's routes under hostile use: the LLM settings cannot make the server call an address the operator did
not list, the login cookie is no programmatic API, other sites cannot drive the UI, and Gradio's failures are JSON
answers on a connection that stays open.

The UI's events are called the way its page calls them (``POST /ui/gradio_api/queue/join``, then the session's SSE
stream), through the real app with its real agent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hugginggpt.config import HuggingGPTConfig
from hugginggpt.errors import ConfigError
from hugginggpt.server.app import create_app
from openai_stub import FakeOpenAIServer

from .conftest import SENTIMENT, LiveServer

KEY = "ui-s3cret"
ORIGIN = {"Origin": "http://testserver"}  # what the browser sends from the UI's own page (TestClient's host)


def internal_service() -> FakeOpenAIServer:
    """An OpenAI-compatible address on loopback that answers every POST with an empty 500 and records the paths it
    was sent (a stand-in for an internal service that the UI must not be able to make the server call)."""
    return FakeOpenAIServer([(500, None)])


@pytest.fixture
def listener() -> Iterator[FakeOpenAIServer]:
    with internal_service() as lst:
        yield lst


class Page:
    """Calls the UI's events as its page does: ``queue/join`` with the page's Origin, then the session's SSE
    stream until the event completes. Returns the event's final outputs."""

    def __init__(self, client: httpx.Client, headers: dict[str, str] | None = None) -> None:
        self.c = client
        self.headers = {**ORIGIN, **(headers or {})}
        self.session = uuid.uuid4().hex[:11]
        config = client.get("/ui/config", headers=self.headers).json()
        self.fns = {d["api_name"]: d["id"] for d in config["dependencies"]}

    def call(self, name: str, data: list[Any]) -> list[Any]:
        r = self.c.post("/ui/gradio_api/queue/join", headers=self.headers,
                        json={"data": data, "fn_index": self.fns[name], "session_hash": self.session})
        assert r.status_code == 200, r.text
        event_id = r.json()["event_id"]
        done: dict[str, Any] | None = None
        with self.c.stream("GET", "/ui/gradio_api/queue/data", params={"session_hash": self.session},
                           headers=self.headers, timeout=300) as stream:
            for line in stream.iter_lines():  # read to the end: the server closes the stream after the event
                msg = json.loads(line[5:]) if line.startswith("data:") else {}
                if msg.get("event_id") == event_id and msg.get("msg") == "process_completed":
                    done = msg
        assert done is not None and done.get("success", True), (name, done)
        return list(done["output"]["data"])

    def settings(self, url: str, planner: str = "llm") -> str:
        return str(self.call("apply_settings", [None, "OpenAI-compatible", url, "m", "", planner])[1])

    def send(self, text: str) -> str:
        chat = self.call("respond", [{"text": text, "files": []}, [], None])[0]
        return "\n".join(part.get("text", "") for m in chat if m["role"] == "assistant"
                         for part in (m["content"] if isinstance(m["content"], list) else []))


def ui_client(tmp_path: Any, agent: Any, **server: Any) -> TestClient:
    config = HuggingGPTConfig(workspace=tmp_path / "ws", server={"ui": True, **server})
    return TestClient(create_app(config, agent=agent), follow_redirects=False)


def login(c: TestClient) -> dict[str, str]:
    r = c.post("/login", data={"key": KEY})
    assert r.status_code == 303, r.text
    return {"Cookie": f"hugginggpt_session={r.cookies['hugginggpt_session']}"}


# ----- item 10: the UI's LLM settings -----------------------------------------------------------------------------
@pytest.mark.slow
def test_default_server_never_calls_a_url_given_in_the_ui(tmp_path, shared_agent, listener):
    """Before: any visitor chose `OpenAI-compatible` + any URL + planner llm, and the server POSTed to it (6 POSTs
    for one message). Now the settings are off without an API key, and a forged session state does not help."""
    with ui_client(tmp_path, shared_agent) as c:
        page = Page(c)
        note = page.settings(listener.url)
        assert "turned off" in note and "ui_llm_settings" in note
        # The State input is the server's own per-session value: what a client sends for it is not used.
        forged = page.call("respond", [{"text": SENTIMENT, "files": []}, [],
                                       {"llm": {"base_url": listener.url, "planner": "llm"}}])
        assert "positive" in json.dumps(forged[0])
        assert listener.paths == []


@pytest.mark.slow
def test_settings_switched_on_without_a_key_stay_off(tmp_path, shared_agent, listener):
    with ui_client(tmp_path, shared_agent, ui_llm_settings=True, ui_llm_allowlist=[listener.url]) as c:
        note = Page(c).settings(listener.url)
        assert "needs an API key" in note
        assert listener.paths == []


@pytest.mark.slow
def test_with_a_key_only_allowlisted_endpoints_are_used(tmp_path, shared_agent, listener):
    other = internal_service()  # a second service, not on the list
    try:
        with ui_client(tmp_path, shared_agent, api_key=KEY, ui_llm_settings=True,
                       ui_llm_allowlist=[listener.url + "/"]) as c:
            page = Page(c, login(c))
            for url in (other.url, other.url.replace("/v1", "/v1/../v1"), "http://169.254.169.254/latest",
                        "file:///etc/passwd", listener.url + "?x=1", "http://user@" + listener.url[7:]):
                note = page.settings(url)
                assert "not on this server's allowlist" in note and "ui_llm_allowlist" in note, (url, note)
            page.send(SENTIMENT)
            assert other.paths == [] and listener.paths == []
            # The listed endpoint is accepted (normalised) and really used: the check can see a call when one is made.
            assert "now uses" in page.settings(listener.url.replace("http://", "HTTP://") + "/")
            page.send("describe the history of Rome")
            assert listener.paths and set(listener.paths) == {"/v1/chat/completions"}
            assert other.paths == []
    finally:
        other.close()


def test_malformed_allowlist_entry_stops_the_server(tmp_path, shared_agent):
    config = HuggingGPTConfig(workspace=tmp_path / "ws", server={"ui": True, "ui_llm_allowlist": ["ftp://x/v1"]})
    with pytest.raises(ConfigError, match="ui_llm_allowlist"):
        create_app(config, agent=shared_agent)


# ----- the login cookie and Gradio's API --------------------------------------------------------------------------
GRADIO_API = [("GET", "/ui/gradio_api/info"), ("POST", "/ui/gradio_api/call/respond"),
              ("POST", "/ui/gradio_api/call/v2/respond"), ("POST", "/ui/gradio_api/api/respond"),
              ("POST", "/ui/gradio_api/run/respond"), ("GET", "/ui/gradio_api/openapi.json"),
              ("GET", "/ui/openapi.json"), ("POST", "/ui//gradio_api//call/respond")]


@pytest.fixture
def secured(tmp_path, shared_agent) -> Iterator[TestClient]:
    with ui_client(tmp_path, shared_agent, api_key=KEY) as c:
        yield c


@pytest.mark.parametrize(("method", "path"), GRADIO_API)
def test_cookie_does_not_open_gradio_api(secured, method, path):
    """Before: with the cookie, /ui/gradio_api/info answered 200 and /call/<name> started runs (gradio_client
    worked with a copied cookie). Now the cookie gets 401, and even the key gets 404: that API is off."""
    cookie = login(secured)
    r = secured.request(method, path, json={"data": []}, headers={**cookie, **ORIGIN})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", (path, r.text)
    r = secured.request(method, path, json={"data": []}, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 404 and "turned off" in r.json()["error"]["message"], (path, r.text)


def test_cookie_alone_is_not_a_programmatic_api(secured):
    cookie = login(secured)
    body = {"data": [{"text": SENTIMENT, "files": []}, [], None], "fn_index": 0, "session_hash": "abcdefghijk"}
    # A program with a copied cookie and no browser Origin is told to use the key.
    r = secured.post("/ui/gradio_api/queue/join", json=body, headers=cookie)
    assert r.status_code == 403 and "only in the web UI" in r.json()["error"]["message"]
    # A page on another site (another port is another origin) cannot use it either.
    r = secured.post("/ui/gradio_api/queue/join", json=body, headers={**cookie, "Origin": "http://testserver:9999"})
    assert r.status_code == 403
    # The bearer key needs no Origin; reading the page with the cookie still works.
    assert secured.get("/ui/config", headers=cookie).status_code == 200
    r = secured.post("/ui/gradio_api/queue/join", json={**body, "fn_index": 999},
                     headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code not in (401, 403)


@pytest.mark.parametrize("listed", [[], ["https://tools.example.org"]])
def test_other_sites_cannot_drive_the_ui_even_without_a_key(tmp_path, shared_agent, listed):
    """Before: reached by a non-localhost name, Gradio echoed any Origin with credentials allowed, so any web page
    a visitor opened could start runs through the visitor's browser and read the results."""
    with ui_client(tmp_path, shared_agent, cors_origins=listed) as c:
        lan = {"Host": "gpu-box:8004"}
        evil = {**lan, "Origin": "https://evil.example"}
        r = c.get("/ui/config", headers=evil)
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
        r = c.options("/ui/gradio_api/queue/join", headers={**evil, "Access-Control-Request-Method": "POST"})
        assert r.status_code in (400, 403) and "access-control-allow-origin" not in r.headers  # preflight fails
        r = c.post("/ui/gradio_api/queue/join", json={"data": [], "fn_index": 1, "session_hash": "abcdefghijk"},
                   headers=evil)
        assert r.status_code == 403
        r = c.post("/ui/gradio_api/upload", headers={**lan, "Sec-Fetch-Site": "cross-site"}, content=b"x")
        assert r.status_code == 403
        for origin in ("null", "http://gpu-box:8005", "file://"):
            assert c.get("/ui/config", headers={**lan, "Origin": origin}).status_code == 403, origin
        # The page's own origin, and origins the operator listed, are served.
        assert c.get("/ui/config", headers={**lan, "Origin": "http://gpu-box:8004"}).status_code == 200
        listed_ok = c.get("/ui/config", headers={**lan, "Origin": "https://tools.example.org"}).status_code
        assert listed_ok == (200 if listed else 403)
        assert c.get("/ui/config", headers={"Host": "gpu-box", "Origin": "https://gpu-box"}).status_code == 200
        # Behind a reverse proxy that sends its own Host upstream, the public host comes in X-Forwarded-Host.
        proxied = {"Host": "127.0.0.1:8004", "X-Forwarded-Host": "hg.example.org"}
        assert c.get("/ui/config", headers={**proxied, "Origin": "https://hg.example.org"}).status_code == 200
        assert c.get("/ui/config", headers={**proxied, "Origin": "https://evil.example"}).status_code == 403


# ----- Gradio's 500 ---------------------------------------------------------------------------------------------------
@pytest.mark.slow  # starts uvicorn: the connection reset is uvicorn's doing
def test_gradio_failures_are_json_and_the_connection_stays_open(tmp_path, shared_agent):
    """Before: `queue/join` with an unknown fn_index answered a plain-text 500, uvicorn then closed the kept-alive
    connection, and the client's next request on it failed with ECONNRESET."""
    app = create_app(HuggingGPTConfig(workspace=tmp_path / "ws", server={"ui": True}), agent=shared_agent)
    connects: list[str] = []

    def trace(event: str, _info: Any) -> None:
        if event == "connection.connect_tcp.complete":
            connects.append(event)

    with LiveServer(app) as server, httpx.Client(base_url=server.url, trust_env=False) as c:
        for _ in range(3):
            r = c.post("/ui/gradio_api/queue/join", json={"data": [], "fn_index": 999, "session_hash": "abcdefghijk"},
                       headers={"Origin": server.url}, extensions={"trace": trace})
            assert r.status_code == 500 and r.headers["content-type"] == "application/json"
            assert r.json()["error"]["code"] == "internal_error" and "web UI" in r.json()["error"]["message"]
            assert c.get("/healthz", extensions={"trace": trace}).status_code == 200
    assert len(connects) == 1  # six requests, one connection
