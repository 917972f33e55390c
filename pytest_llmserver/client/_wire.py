"""The client's own HTTP/1.1 transport for httpx: asyncio protocols, an O(1) pool, arrival
stamps taken in ``data_received``.

``WireTransport`` is an ``httpx.AsyncBaseTransport``: a request goes out in one write, the
response head is parsed by hand (``_framing``), the body comes as one piece per socket read
(``_conn``), each stamped with the transport's ``clock``; the stream under the response is
``response.extensions["llm_arrival"]``, whose ``t_ns`` is the arrival of the piece just
read. httpx's ``timeout`` extension is honoured (connect, read inactivity, write, pool) and
failures are httpx's exception types; ``trace`` gets the events ``SendTrace`` reads; the
keep-alive evidence of the sending attempt (``_keepalive``) learns what the connection saw.

While a test mock has replaced httpx's or httpcore's transport (respx, pytest-httpx), requests
go through httpx's own transport instead, so the mock sees them.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpcore
import httpx

from pytest_llmserver.client._conn import Connection
from pytest_llmserver.client._keepalive import current_attempt
from pytest_llmserver.client._pool import Origin, Pool

Trace = Callable[[str, Mapping[str, Any]], Awaitable[None]]
"""httpx's ``trace`` extension: called with an event name and its details."""

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
_PORTS = {"http": 80, "https": 443}


def mocked() -> bool:
    """Whether a test mock has patched httpcore's pool, httpx's transport or httpx's choice of
    transport (respx's two mockers, pytest-httpx)."""
    pool_send = httpcore.AsyncConnectionPool.handle_async_request
    transport_send = httpx.AsyncHTTPTransport.handle_async_request
    choose = httpx.AsyncClient._transport_for_url
    return not (
        getattr(pool_send, "__module__", "").startswith("httpcore.")
        and getattr(transport_send, "__module__", "").startswith("httpx.")
        and getattr(choose, "__module__", "").startswith("httpx.")
    )


class WireBody(httpx.AsyncByteStream):
    """A response body, one piece per socket read; ``t_ns`` is the last piece's arrival."""

    def __init__(
        self, conn: Connection, pool: Pool, timeout: float | None, clock: Callable[[], int]
    ) -> None:
        self.clock = clock
        """The clock of the stamps."""
        self.t_ns = 0
        self._conn = conn
        self._pool = pool
        self._timeout = timeout
        self._open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        pieces = conn.pieces
        timeout = self._timeout
        while True:
            if pieces:
                self.t_ns, data = conn.take()
                yield data
            elif conn.done:
                break
            else:
                await conn.wait(timeout)
        self._release(conn.finish())

    async def aclose(self) -> None:
        self._release(False)

    def _release(self, reusable: bool) -> None:
        if self._open:
            self._open = False
            self._pool.release(self._conn, reusable)


def _check(value: bytes) -> bytes:
    if b"\n" in value or b"\r" in value:
        raise httpx.LocalProtocolError("illegal line break in a request header")
    return value


async def _request_bytes(request: httpx.Request) -> bytes:
    """The request as written on the wire: request line, headers, body."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    parts = [request.method.encode(), b" ", _check(request.url.raw_path), b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        parts += (name, b": ", _check(value), b"\r\n")
        chunked = chunked or (name.lower() == b"transfer-encoding" and b"chunked" in value)
    parts.append(b"\r\n")
    if chunked:
        parts.append(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n")
    else:
        parts.append(body)
    return b"".join(parts)


class WireTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio with a pool of ``limits.max_connections`` (every connection may
    be kept alive for ``limits.keepalive_expiry`` seconds); ``clock`` stamps arrivals."""

    def __init__(
        self,
        limits: httpx.Limits = DEFAULT_LIMITS,
        *,
        clock: Callable[[], int] = time.perf_counter_ns,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self._verify = verify
        size = limits.max_connections
        self.pool = Pool(size if size is not None else 1 << 30, limits.keepalive_expiry)
        self._ssl: ssl.SSLContext | None = None
        self._fallback: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if mocked():
            return await self._mock_transport().handle_async_request(request)
        url = request.url
        scheme = url.scheme
        if scheme not in _PORTS:
            raise httpx.UnsupportedProtocol(f"the client speaks http and https, not {scheme!r}")
        extensions = request.extensions
        return await self.roundtrip(
            (scheme, url.host, url.port or _PORTS[scheme]),
            await _request_bytes(request),
            extensions.get("timeout", {}),
            extensions.get("trace"),
            head_request=request.method == "HEAD",
            close=request.headers.get("connection", "").lower() == "close",
        )

    async def roundtrip(
        self,
        origin: Origin,
        data: bytes,
        timeouts: Mapping[str, float | None],
        trace: Trace | None,
        *,
        head_request: bool = False,
        close: bool = False,
    ) -> httpx.Response:
        """Send the request ``data`` to ``origin``; the response once its head is in."""
        evidence = current_attempt()
        pool = self.pool
        conn = await pool.acquire(origin, timeouts.get("pool"))
        if conn is None:
            try:
                conn = await self._connect(origin, timeouts.get("connect"), trace)
            except BaseException:
                pool.forget_slot()
                raise
            pool.add(conn)
        try:
            if trace is not None:
                await trace("http11.send_request_headers.started", {})
            await conn.send(
                data, head_request=head_request, evidence=evidence, timeout=timeouts.get("write")
            )
            if trace is not None:
                await trace("http11.send_request_body.complete", {})
            head = await conn.response_head(timeouts.get("read"))
        except BaseException:
            pool.release(conn, False)
            raise
        if close:
            conn.keep_alive = False
        body = WireBody(conn, pool, timeouts.get("read"), self.clock)
        return httpx.Response(
            head.status,
            headers=head.headers,
            stream=body,
            extensions={
                "http_version": head.http_version,
                "reason_phrase": head.reason,
                "llm_arrival": body,
            },
        )

    async def _connect(
        self, origin: Origin, timeout: float | None, trace: Trace | None
    ) -> Connection:
        scheme, host, port = origin
        if trace is not None:
            await trace("connection.connect_tcp.started", {"host": host, "port": port})
        context = self._ssl_context() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        opening = loop.create_connection(
            lambda: Connection(origin, self.clock),
            host,
            port,
            ssl=context,
            server_hostname=host if context is not None else None,
        )
        try:
            _, conn = await asyncio.wait_for(opening, timeout)
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"connect to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        if trace is not None:
            await trace("connection.connect_tcp.complete", {"return_value": conn})
        return conn

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            verify = self._verify
            self._ssl = (
                verify
                if isinstance(verify, ssl.SSLContext)
                else httpx.create_ssl_context(verify=verify)
            )
        return self._ssl

    def _mock_transport(self) -> httpx.AsyncHTTPTransport:
        if self._fallback is None:
            self._fallback = httpx.AsyncHTTPTransport(limits=self.limits, verify=self._verify)
        return self._fallback

    async def aclose(self) -> None:
        self.pool.close()
        if self._fallback is not None:
            await self._fallback.aclose()


class DirectPost:
    """POSTs to one URL handed straight to ``WireTransport.roundtrip``, past httpx's client
    layer (URL and header merging, auth flow, cookies: about 80 us a request).

    The request head is built once, by ``http.build_request``, so it carries what httpx
    would send (the client's headers, ``Authorization``, ``Host``, ``User-Agent``); only
    ``Content-Length`` and the body change. Response cookies are not kept. Use it only where
    httpx would add nothing per request (no URL user-info without an API key's header), and
    only while no test mock is active (``mocked``).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        wire: WireTransport,
        url: str,
        headers: Mapping[str, str],
    ) -> None:
        self._wire = wire
        self._timeouts = http.timeout.as_dict()
        template = http.build_request("POST", url, content=b"", headers=headers)
        target = template.url
        self._origin: Origin = (target.scheme, target.host, target.port or _PORTS[target.scheme])
        self._heads = tuple(
            self._head(http, url, {**headers, "Connection": value})
            for value in ("keep-alive", "close")
        )

    @staticmethod
    def _head(http: httpx.AsyncClient, url: str, headers: Mapping[str, str]) -> bytes:
        request = http.build_request("POST", url, content=b"", headers=headers)
        lines = [b"POST ", _check(request.url.raw_path), b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            if name.lower() != b"content-length":
                lines += (name, b": ", _check(value), b"\r\n")
        return b"".join(lines)

    async def post(self, content: bytes, trace: Trace | None, close: bool) -> httpx.Response:
        """POST ``content``; the response once its head is in (``Connection: close`` when
        ``close``)."""
        data = self._heads[close] + b"Content-Length: %d\r\n\r\n" % len(content) + content
        return await self._wire.roundtrip(self._origin, data, self._timeouts, trace, close=close)
