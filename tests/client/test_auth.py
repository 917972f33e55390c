"""Which credentials go out: the API key as a bearer token, also when the server URL holds a
``user:password`` (sent as ``Basic`` credentials only when there is no key); the same for
discovery's JSON client."""

from __future__ import annotations

import base64

import pytest

from pytest_llmserver.client import ModelClient
from pytest_llmserver.discovery.fingerprint import json_client
from tests.hostile.server import HostileServer

BASIC = "Basic " + base64.b64encode(b"alice:pw").decode()


@pytest.mark.parametrize(("key", "sent"), [("sk-key-123", "Bearer sk-key-123"), (None, BASIC)])
async def test_the_key_outranks_the_url_user_info(key: str | None, sent: str) -> None:
    async with HostileServer() as server:
        url = server.url.replace("http://", "http://alice:pw@")
        async with ModelClient({"url": url}, "hostile-small", api_key=key) as client:
            await client.complete([{"role": "user", "content": "hi"}])
        async with json_client(key) as http:
            await http.get(url + "/v1/models")
    assert [s.authorization for s in server.log] == [sent, sent]
