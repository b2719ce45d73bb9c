"""The real ``openai`` client against the app served by uvicorn on loopback."""

from __future__ import annotations

import openai
import pytest

from hugginggpt.config import HuggingGPTConfig
from hugginggpt.server.app import create_app

from .conftest import SENTIMENT, LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]  # real agent runs through the client: up to 300 s


@pytest.fixture
def live(tmp_path, shared_agent):
    app = create_app(HuggingGPTConfig(workspace=tmp_path / "ws", server={"ui": False, "api_key": "k-123"}),
                     agent=shared_agent)
    with LiveServer(app) as server:
        yield server


def test_openai_client_models_completion_and_stream(live):
    client = openai.OpenAI(base_url=live.url + "/v1", api_key="k-123", max_retries=0, timeout=300)
    assert [m.id for m in client.models.list()] == ["hugginggpt"]

    done = client.chat.completions.create(model="hugginggpt", messages=[{"role": "user", "content": SENTIMENT}])
    assert done.object == "chat.completion"
    assert "positive" in done.choices[0].message.content

    stream = client.chat.completions.create(model="hugginggpt", messages=[{"role": "user", "content": SENTIMENT}],
                                            stream=True)
    chunks = list(stream)
    assert chunks and all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "positive" in text
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_client_errors(live):
    bad = openai.OpenAI(base_url=live.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    client = openai.OpenAI(base_url=live.url + "/v1", api_key="k-123", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": SENTIMENT}])
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="hugginggpt", messages=[{"role": "user", "content": " "}])
    assert info.value.status_code == 400
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="hugginggpt",
                                       messages=[{"role": "user", "content": "describe this image"}])
