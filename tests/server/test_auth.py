"""The API key: off by default; when set, required on every route (the UI via a login cookie)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import SENTIMENT, png_bytes

KEY = "s3cret-key"
ROUTES = [("GET", "/v1/models"), ("POST", "/hugginggpt"), ("POST", "/tasks"), ("POST", "/results"),
          ("POST", "/v1/chat/completions"), ("POST", "/v1/runs"), ("GET", "/v1/runs"), ("GET", "/v1/runs/abc"),
          ("GET", "/v1/runs/abc/events"), ("POST", "/v1/files"), ("GET", "/v1/artifacts/" + "0" * 64),
          ("GET", "/v1/conversations/abc"), ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/healthz"),
          ("GET", "/ui/"), ("GET", "/ui/config"), ("POST", "/ui/gradio_api/queue/join")]


@pytest.fixture
def secured(make_app):
    with TestClient(make_app(api_key=KEY, ui=True), follow_redirects=False) as c:
        yield c


@pytest.mark.slow
def test_no_key_configured_means_open(client):
    assert client.get("/v1/models").status_code == 200
    r = client.post("/hugginggpt", json={"messages": [{"role": "user", "content": SENTIMENT}]})
    assert r.status_code == 200


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_the_key(secured, method, path):
    r = secured.request(method, path, json={})
    assert r.status_code == 401, (path, r.status_code)
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = secured.request(method, path, json={}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


@pytest.mark.slow
def test_right_key_is_accepted(secured):
    auth = {"Authorization": f"Bearer {KEY}"}
    assert secured.get("/v1/models", headers=auth).status_code == 200
    spec = secured.get("/openapi.json", headers=auth).json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    r = secured.post("/hugginggpt", json={"messages": [{"role": "user", "content": SENTIMENT}]}, headers=auth)
    assert r.status_code == 200 and "positive" in r.json()["message"]
    r = secured.post("/v1/files", files={"file": ("a.png", png_bytes(), "image/png")}, headers=auth)
    assert r.status_code == 201
    art = r.json()["url"]
    assert secured.get(art).status_code == 401
    assert secured.get(art, headers=auth).status_code == 200


def test_ui_login_sets_a_session_cookie(secured):
    r = secured.get("/ui/", headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert secured.get("/login").status_code == 200
    r = secured.post("/login", data={"key": "wrong"})
    assert r.status_code == 303 and "error" in r.headers["location"]
    r = secured.post("/login", data={"key": KEY})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and KEY not in cookie
    assert secured.get("/ui/", headers={"Accept": "text/html"}).status_code == 200
    # The cookie opens the UI, the media it shows and the docs, not the API.
    assert secured.get("/openapi.json").status_code == 200
    assert secured.get("/v1/models").status_code == 401
    assert secured.post("/v1/runs", json={"request": "hi"}).status_code == 401
    secured.get("/logout")
    assert secured.get("/ui/", headers={"Accept": "text/html"}).status_code == 303
