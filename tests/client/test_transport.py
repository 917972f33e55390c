"""The send stamp through httpx's trace extension, the stale-connection retry, the pool."""

from __future__ import annotations

import httpx
import pytest

from pytest_llmserver.client import (
    HTTPX_ERRORS,
    LLMConnectError,
    LLMError,
    LLMProtocolError,
    LLMStreamClosedError,
    LLMTimeoutError,
    ModelClient,
    Timeouts,
    llm_error,
    map_http_errors,
)
from pytest_llmserver.client._wire import WireTransport
from tests.client.mocked import BASE, approx
from tests.clocked import FakeClock, clocked_response, delta, sse


class TracingTransport(httpx.AsyncBaseTransport):
    """Plays httpcore's trace events at set times, then answers (or drops) the request."""

    def __init__(self, clock: FakeClock, script: list[tuple[list[tuple[float, str]], object]]):
        self.clock = clock
        self.script = script
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        events, outcome = self.script[self.calls]
        self.calls += 1
        trace = request.extensions["trace"]
        for at_ms, name in events:
            self.clock.at_ms(at_ms)
            await trace(name, {})
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, httpx.Response)
        return outcome


CONNECT: list[tuple[float, str]] = [
    (10, "connection.connect_tcp.started"),
    (11, "connection.connect_tcp.complete"),
    (12, "http11.send_request_headers.started"),
    (15, "http11.send_request_body.complete"),
]
REUSED: list[tuple[float, str]] = [
    (2, "http11.send_request_headers.started"),
    (3, "http11.send_request_body.complete"),
]


def _answer(clock: FakeClock) -> httpx.Response:
    return clocked_response(clock, [(215, sse(delta(content="x", finish="stop")) + sse(b"[DONE]"))])


async def test_client_setup_and_connect_are_not_in_ttft(clock: FakeClock) -> None:
    transport = TracingTransport(clock, [(CONNECT, _answer(clock))])
    async with ModelClient({"url": BASE}, "m", clock=clock, transport=transport) as client:
        await client.chat("q")
    m = client.last_metrics
    assert m is not None
    assert m.send_traced
    assert m.pool_wait_s == approx(0.010)
    assert m.connect_s == approx(0.001)
    assert m.ttft_s == approx(0.200)


def _reset() -> httpx.ReadError:
    """What httpx raises when the server's kernel reset a request its application never read."""
    error = httpx.ReadError("[Errno 104] Connection reset by peer")
    error.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    return error


async def test_stale_keepalive_connection_is_retried_once_and_recorded(clock: FakeClock) -> None:
    dropped = _reset()
    transport = TracingTransport(clock, [(REUSED, dropped), (CONNECT, _answer(clock))])
    async with ModelClient({"url": BASE}, "m", clock=clock, transport=transport) as client:
        assert await client.chat("q") == "x"
    m = client.last_metrics
    assert m is not None
    assert transport.calls == 2
    assert m.stale_connection_retry
    assert m.ttft_s == approx(0.200)


async def test_drop_on_a_fresh_connection_is_not_retried(clock: FakeClock) -> None:
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport = TracingTransport(clock, [(CONNECT, dropped), (CONNECT, _answer(clock))])
    async with ModelClient({"url": BASE}, "m", clock=clock, transport=transport) as client:
        with pytest.raises(LLMStreamClosedError, match="broke mid-response"):
            await client.chat("q")
    assert transport.calls == 1


async def test_a_reset_on_a_fresh_connection_is_not_retried(clock: FakeClock) -> None:
    transport = TracingTransport(clock, [(CONNECT, _reset()), (CONNECT, _answer(clock))])
    async with ModelClient({"url": BASE}, "m", clock=clock, transport=transport) as client:
        with pytest.raises(LLMStreamClosedError, match="reset by peer"):
            await client.chat("q")
    assert transport.calls == 1


async def test_a_clean_close_on_a_reused_connection_is_not_retried(clock: FakeClock) -> None:
    """The server may have read the request before it closed: sending it again is unsound."""
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport = TracingTransport(clock, [(REUSED, dropped), (CONNECT, _answer(clock))])
    async with ModelClient({"url": BASE}, "m", clock=clock, transport=transport) as client:
        with pytest.raises(LLMStreamClosedError, match="broke mid-response") as info:
            await client.chat("q")
    assert transport.calls == 1
    assert info.value.metrics is not None
    assert not info.value.metrics.stale_connection_retry


async def test_pool_is_sized_to_concurrency() -> None:
    async with ModelClient({"url": BASE}, "m", concurrency=64) as client:
        transport = client._http._transport
        assert isinstance(transport, WireTransport)
        assert transport.pool.max_connections == 64
        assert transport.limits.max_keepalive_connections == 64


# httpx exceptions -> LLMError, one table -----------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "error", "phase", "message"),
    [
        (httpx.ConnectTimeout("t"), LLMTimeoutError, "connect", "connect to U timed out after 2 s"),
        (httpx.ConnectError(""), LLMConnectError, None, "cannot connect to U: refused"),
        (
            httpx.ReadTimeout("t"),
            LLMTimeoutError,
            "read",
            "no data from U for 7 s (read inactivity timeout)",
        ),
        (httpx.PoolTimeout("t"), LLMTimeoutError, "", "PoolTimeout talking to U"),
        (httpx.RemoteProtocolError("gone"), LLMStreamClosedError, None, "broke mid-response: gone"),
        (httpx.ReadError(""), LLMStreamClosedError, None, "broke mid-response: ReadError"),
        (httpx.DecodingError("bad gzip"), LLMProtocolError, None, "HTTP failure talking to U"),
    ],
)
def test_each_httpx_failure_maps_to_its_error(
    raised: httpx.HTTPError, error: type[LLMError], phase: str | None, message: str
) -> None:
    timeouts = Timeouts(connect_s=2.0, read_s=7.0, total_s=9.0)
    with pytest.raises(LLMError) as caught, map_http_errors("U", timeouts):
        raise raised
    assert type(caught.value) is error
    assert message in str(caught.value)
    assert caught.value.url == "U"
    assert caught.value.__cause__ is raised
    if phase is not None:
        assert caught.value.phase == phase  # type: ignore[attr-defined]


def test_without_timeouts_the_limit_is_not_quoted_and_our_errors_pass() -> None:
    assert str(llm_error(httpx.ReadTimeout("t"), "U")) == (
        "no data from U (read inactivity timeout)"
    )
    assert str(llm_error(httpx.ConnectTimeout("t"), "U")) == "connect to U timed out"
    mine = LLMProtocolError("mine", url="U")
    with pytest.raises(LLMProtocolError) as caught, map_http_errors("U"):
        raise mine
    assert caught.value is mine
    assert HTTPX_ERRORS[-1][0] is httpx.HTTPError  # the table is total
