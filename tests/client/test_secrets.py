"""Secrets never leave the client in messages: a URL password is sent as Basic auth but shown
redacted everywhere; an API key a server echoes (in a 401 body, an error event, a broken event)
never reaches an exception's text."""

from __future__ import annotations

import base64

import httpx
import pytest

from pytest_llmserver.client import LLMError, ModelClient
from tests.hostile.replies import MODELS, Api
from tests.hostile.server import HostileServer

KEY = "sk-test-7f3a9c2e1b5d4680"
PASSWORD = "hunter2-Secret"
APIS: tuple[Api, ...] = ("openai", "ollama")
MESSAGES = [{"role": "user", "content": "hi"}]


def with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{PASSWORD}@")


@pytest.mark.parametrize("api", APIS)
async def test_a_url_password_is_sent_as_auth_but_never_shown(api: Api) -> None:
    async with HostileServer() as server:
        async with ModelClient({"url": with_password(server.url), "type": api}, MODELS[0]) as c:
            response = await c.complete(MESSAGES)
            assert PASSWORD not in c.chat_url
        async with ModelClient(
            {"url": with_password(server.url_for("http_500_json")), "type": api}, MODELS[0]
        ) as c:
            with pytest.raises(LLMError) as info:
                await c.complete(MESSAGES)
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert [s.authorization for s in server.log] == [expected, expected]
    assert PASSWORD not in response.metrics.url
    assert "alice:[redacted]@" in response.metrics.url
    error = info.value
    assert error.metrics is not None
    for text in (str(error), error.url, error.metrics.url):
        assert PASSWORD not in text
        assert "alice:[redacted]@" in text


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault", ["key_echo_401", "key_echo_event", "key_echo_bad_event"])
async def test_an_echoed_key_is_redacted_from_the_error(api: Api, fault: str) -> None:
    async with (
        HostileServer() as server,
        ModelClient({"url": server.url_for(fault), "type": api}, MODELS[0], api_key=KEY) as c,
    ):
        with pytest.raises(LLMError) as info:
            await c.complete(MESSAGES)
    assert server.log[0].authorization == f"Bearer {KEY}"
    assert KEY not in str(info.value)
    assert KEY not in getattr(info.value, "server_message", "")
    assert "[redacted]" in str(info.value)


async def test_a_shared_http_client_key_is_redacted_too() -> None:
    """A client given someone else's pool learns the key from its Authorization header."""
    async with (
        HostileServer() as server,
        httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as shared,
        ModelClient({"url": server.url_for("key_echo_401")}, MODELS[0], http_client=shared) as c,
    ):
        with pytest.raises(LLMError) as info:
            await c.complete(MESSAGES)
    assert KEY not in str(info.value)
