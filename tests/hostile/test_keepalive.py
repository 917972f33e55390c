"""The keep-alive retry against real sockets: a request the server never read is sent again
once; a request the server read is never sent twice (see ``client._keepalive``).

The server runs in the test's own event loop, so its close (FIN, then the RST for the unread
request) happens in one step, before the client looks."""

from __future__ import annotations

import pytest

from pytest_llmserver.client import LLMStreamClosedError, ModelClient
from pytest_llmserver.client._wire import WireTransport
from tests.hostile.matrix import APIS
from tests.hostile.replies import ANSWER, MODELS, Api
from tests.hostile.server import HostileServer, Schedule

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("fault", ["close_when_next_arrives", "reset_when_next_arrives"])
@pytest.mark.parametrize("api", APIS)
async def test_a_request_the_server_never_read_is_sent_again_once(api: Api, fault: str) -> None:
    server = await HostileServer(schedule=Schedule.sequence([fault])).start()
    try:
        async with ModelClient({"url": server.url, "type": api}, MODELS[0], concurrency=1) as c:
            first = await c.complete(MESSAGES)
            second = await c.complete(MESSAGES)
    finally:
        await server.stop()
    assert not first.metrics.stale_connection_retry
    assert second.metrics.stale_connection_retry
    assert second.content == ANSWER
    assert [s.fault for s in server.log] == [fault, None]  # the unread copy never arrived
    assert server.connections == 2  # the reused connection, then a new one


@pytest.mark.parametrize("api", APIS)
async def test_a_request_the_server_read_is_never_sent_twice(api: Api) -> None:
    schedule = Schedule.sequence([None, "close_after_request"])
    server = await HostileServer(schedule=schedule).start()
    try:
        async with ModelClient({"url": server.url, "type": api}, MODELS[0], concurrency=1) as c:
            await c.complete(MESSAGES)
            with pytest.raises(LLMStreamClosedError, match="broke mid-response") as info:
                await c.complete(MESSAGES)
            connections_before = server.connections
            await c.complete(MESSAGES)
            await c.complete(MESSAGES)
    finally:
        await server.stop()
    assert [s.fault for s in server.log] == [None, "close_after_request", None, None]
    assert connections_before == 1  # the second request went out on the reused connection
    assert info.value.metrics is not None
    assert not info.value.metrics.stale_connection_retry
    # A server that closes after replies gets a fresh connection for every later request.
    assert [s.connection for s in server.log] == ["keep-alive", "keep-alive", "close", "close"]
    assert server.connections == 3


async def test_a_server_known_to_close_after_streams_gets_a_fresh_connection_each_time() -> None:
    server = await HostileServer().start()
    try:
        record = {"url": server.url, "type": "openai", "kind": "llamacpp"}
        async with ModelClient(record, MODELS[0], concurrency=1) as c:
            for _ in range(3):
                await c.complete(MESSAGES)
    finally:
        await server.stop()
    assert [s.connection for s in server.log] == ["close"] * 3
    assert server.connections == 3


async def test_the_client_runs_on_its_own_transport() -> None:
    """Only the client's own transport reports resets to the retry rule."""
    async with ModelClient({"url": "http://127.0.0.1:9"}, "m") as client:
        assert isinstance(client._http._transport, WireTransport)
