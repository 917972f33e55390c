"""The client's own HTTP/1.1 transport (``_wire``, ``_conn``, ``_pool``, ``_framing``) against
a scripted loopback server: framing, reuse, caps, flow control, timeouts, stamps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import respx

from pytest_llmserver.client import ModelClient, _conn
from pytest_llmserver.client._framing import (
    ChunkedBody,
    FramingError,
    body_decoder,
    parse_head,
)
from pytest_llmserver.client._wire import WireBody, WireTransport, mocked

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A loopback server running ``handler`` once per request; counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                await self.handler(reader, writer)
                if writer.is_closing():
                    return
        finally:
            self.open_now -= 1
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    servers: list[asyncio.base_events.Server] = []

    async def start(handler: Handler) -> Server:
        server = Server(handler)
        listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        servers.append(listener)
        server.port = listener.sockets[0].getsockname()[1]
        return server

    yield start
    for listener in servers:
        listener.close()


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def answer(data: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return handler


def client(limits: httpx.Limits | None = None, **timeouts: float) -> httpx.AsyncClient:
    transport = WireTransport(limits or httpx.Limits(max_connections=4))
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, **timeouts))


# Framing --------------------------------------------------------------------------------------


def test_chunks_that_arrive_together_come_out_as_one_piece() -> None:
    body = ChunkedBody()
    wire = chunked(b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n")
    assert body.feed(wire[:7]) == b"data"
    assert body.feed(wire[7:]) == b": 1\n\ndata: 2\n\ndata: 3\n\n"
    assert body.done
    assert not body.extra


def test_a_chunk_size_split_across_reads_and_extensions_are_read() -> None:
    body = ChunkedBody()
    assert body.feed(b"1") == b""
    assert body.feed(b"0;name=value\r\n" + b"x" * 16 + b"\r\n0\r\nTrailer: t\r\n\r\n") == b"x" * 16
    assert body.done


@pytest.mark.parametrize("wire", [b"zz\r\nab\r\n", b"2\r\nabc\r\n", b"-1\r\n"])
def test_a_bad_chunk_is_a_framing_error(wire: bytes) -> None:
    with pytest.raises(FramingError):
        ChunkedBody().feed(wire)


def test_content_length_body_ends_at_its_length_and_flags_extra_bytes() -> None:
    head = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5")
    assert head.length == 5
    assert head.keep_alive
    body = body_decoder(head, False)
    assert body.feed(b"abc") == b"abc"
    assert body.feed(b"deXYZ") == b"de"
    assert body.done
    assert body.extra


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/2 200 OK",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 200 OK\r\nbad header",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2",
    ],
)
def test_a_bad_head_is_a_framing_error(head: bytes) -> None:
    with pytest.raises(FramingError):
        body_decoder(parse_head(head), False)


def test_http_1_0_and_connection_close_do_not_keep_the_connection() -> None:
    assert not parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0").keep_alive
    assert not parse_head(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0").keep_alive


# The transport over a socket -------------------------------------------------------------------


async def test_a_connection_read_to_its_end_is_reused(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(answer(CHUNKED_HEAD + chunked(b"a", b"b")))
    async with client() as http:
        for _ in range(3):
            response = await http.post(f"http://127.0.0.1:{server.port}/x", content=b"{}")
            assert response.content == b"ab"
    assert server.connections == 1


async def test_connection_close_and_an_early_close_open_a_new_connection(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    server = await serve(answer(closing))
    async with client() as http:
        for _ in range(2):
            assert (await http.get(f"http://127.0.0.1:{server.port}/")).content == b"ok"
    assert server.connections == 2

    server = await serve(answer(CHUNKED_HEAD + chunked(b"a" * 10, b"b" * 10)))
    url = f"http://127.0.0.1:{server.port}/"
    async with client() as http:
        async with http.stream("GET", url) as response:
            assert response.status_code == 200  # closed unread
        assert (await http.get(url)).content == b"a" * 10 + b"b" * 10
    assert server.connections == 2


async def test_a_body_until_close_ends_at_eof(serve: Callable[..., Awaitable[Server]]) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        writer.close()

    server = await serve(handler)
    async with client() as http:
        assert (await http.get(f"http://127.0.0.1:{server.port}/")).content == b"all of it"


async def test_a_response_head_over_the_cap_is_a_protocol_error(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    big = b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"f" * _conn.MAX_HEAD_BYTES + b"\r\n\r\n"
    server = await serve(answer(big))
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="response head longer than"):
            await http.get(f"http://127.0.0.1:{server.port}/")


async def test_a_truncated_chunked_body_is_a_protocol_error(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(CHUNKED_HEAD + b"5\r\nab")
        writer.close()

    server = await serve(handler)
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending complete"):
            await http.get(f"http://127.0.0.1:{server.port}/")


async def test_timeouts_are_httpx_timeouts(serve: Callable[..., Awaitable[Server]]) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.5)

    server = await serve(silent)
    url = f"http://127.0.0.1:{server.port}/"
    limits = httpx.Limits(max_connections=1)
    async with client(limits, read=0.05, pool=0.05) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url)
        hold = asyncio.ensure_future(http.get(url, timeout=httpx.Timeout(1.0)))
        await asyncio.sleep(0.02)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(url)
        hold.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hold


async def test_a_refused_connect_is_a_connect_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    free = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{free}/")


async def test_the_pool_caps_connections_and_serves_every_request(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.01)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    server = await serve(slow)
    url = f"http://127.0.0.1:{server.port}/"
    async with client(httpx.Limits(max_connections=3)) as http:
        replies = await asyncio.gather(*(http.get(url) for _ in range(20)))
        transport = http._transport
        assert isinstance(transport, WireTransport)
        assert transport.pool.open_connections <= 3
    assert [r.content for r in replies] == [b"ok"] * 20
    assert server.most_open <= 3
    assert server.connections == 3


async def test_reading_pauses_above_the_high_water_mark(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    size = 4 * _conn.HIGH_WATER_BYTES
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
    server = await serve(answer(head + b"z" * size))
    url = f"http://127.0.0.1:{server.port}/"
    async with client() as http, http.stream("GET", url) as response:
        body = response.extensions["llm_arrival"]
        assert isinstance(body, WireBody)
        conn = body._conn
        await asyncio.sleep(0.2)  # the server has written all it could
        assert conn._paused
        assert conn._buffered < _conn.HIGH_WATER_BYTES + 1024 * 1024
        assert len(b"".join([piece async for piece in response.aiter_raw()])) == size
        assert not conn._paused


@pytest.mark.timing
async def test_pieces_keep_their_arrival_stamps_when_read_late(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    async def paced(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(CHUNKED_HEAD + b"1\r\na\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"1\r\nb\r\n0\r\n\r\n")
        await writer.drain()

    server = await serve(paced)
    url = f"http://127.0.0.1:{server.port}/"
    async with client() as http, http.stream("GET", url) as response:
        body = response.extensions["llm_arrival"]
        await asyncio.sleep(0.3)  # both pieces are in before the reader looks
        read_ns = time.perf_counter_ns()
        stamps = []
        async for _ in response.aiter_raw():
            stamps.append(body.t_ns)
    assert len(stamps) == 2
    assert stamps[1] - stamps[0] == pytest.approx(0.1e9, abs=0.04e9)
    assert read_ns - stamps[1] > 0.1e9


@respx.mock
async def test_a_test_mock_takes_over_from_the_socket() -> None:
    assert mocked()
    respx.get("http://mocked.invalid/").respond(200, content=b"from the mock")
    async with client() as http:
        assert (await http.get("http://mocked.invalid/")).content == b"from the mock"


def test_no_mock_is_active_outside_one() -> None:
    assert not mocked()


@respx.mock(using="httpx")
async def test_a_mock_of_httpx_transport_choice_also_takes_over(
    respx_mock: respx.MockRouter,
) -> None:
    assert mocked()
    respx_mock.post("http://mocked.invalid/v1/chat/completions").respond(
        200, json={"choices": [{"message": {"role": "assistant", "content": "hi"}}]}
    )
    server = {"url": "http://mocked.invalid", "type": "openai"}
    async with ModelClient(server, "m") as model:
        reply = await model.complete([{"role": "user", "content": "x"}], stream=False)
    assert reply.content == "hi"


def test_the_direct_path_is_taken_only_where_httpx_would_add_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = ModelClient({"url": "http://127.0.0.1:9", "type": "openai"}, "m")
    assert plain._exchange.direct is not None
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.2:9")
    monkeypatch.setenv("NO_PROXY", "localhost")
    proxied = ModelClient({"url": "http://127.0.0.1:9", "type": "openai"}, "m")
    assert proxied._exchange.direct is None  # through the proxy, on httpx's transport
    bypassed = ModelClient({"url": "http://localhost:9", "type": "openai"}, "m")
    assert bypassed._exchange.direct is not None  # NO_PROXY names it
    monkeypatch.delenv("HTTP_PROXY")
    basic = ModelClient({"url": "http://u:p@127.0.0.1:9", "type": "openai"}, "m")
    assert basic._exchange.direct is None  # httpx's auth flow adds the Basic header
