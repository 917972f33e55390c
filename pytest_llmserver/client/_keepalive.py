"""Keep-alive without double sends: when a request may be sent again, and which servers get
a fresh connection for every request.

A request that fails on a reused keep-alive connection before any response byte arrived was
either never read by the server (it had closed the idle connection while the request was on
its way) or read and dropped (a server that fails, or a hostile one). Only the first may be
sent again. The proof is a *reset*: a server's kernel answers bytes that its application never
read with RST, while a server that read the whole request and then closed sends a plain FIN.
So the retry rule is

    reused connection, no response byte, and the connection was reset
    (ECONNRESET/EPIPE on the read, or a reset queued right behind the server's FIN)

A clean close after the request went out is never retried. The reset behind a FIN is only
visible on the socket, so the client's own pool wraps its network streams (``WatchedBackend``)
to look at the socket when it reads end-of-file.

Some servers close a connection after every streamed reply without saying so (llama.cpp
announces ``Keep-Alive`` and closes); a request sent on it in the moment before the close is
taken off the socket and dropped, with a plain FIN: a client cannot tell that from a server
that read the request on purpose, so it must not resend it. Instead such servers get
``Connection: close`` on every request (``ConnectionPolicy``): known ones by kind
(``CLOSES_AFTER_STREAMS``), any other from its first clean close on a reused connection.
No request of theirs ever meets a closing connection.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})

CLOSES_AFTER_STREAMS = frozenset({"llamacpp"})
"""Server kinds known to close a connection after every streamed reply without saying so."""


@dataclass
class ConnectionPolicy:
    """Whether a client's requests go out with ``Connection: close`` (see the module text)."""

    close_each: bool = False

    @classmethod
    def for_kind(cls, kind: str) -> ConnectionPolicy:
        return cls(close_each=kind in CLOSES_AFTER_STREAMS)


@dataclass
class AttemptEvidence:
    """What the network streams saw during one send attempt."""

    received_bytes: int = 0
    reset: bool = False


_ATTEMPT: ContextVar[AttemptEvidence | None] = ContextVar("llm_attempt", default=None)


def watch_attempt() -> AttemptEvidence:
    """Start collecting evidence for the attempt about to be sent from this task."""
    evidence = AttemptEvidence()
    _ATTEMPT.set(evidence)
    return evidence


def was_reset(exc: BaseException | None, evidence: AttemptEvidence) -> bool:
    """Whether the failure shows a reset (in the exception chain, or seen on the socket)."""
    if evidence.reset:
        return True
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return True
        if isinstance(exc, OSError) and exc.errno in _RESET_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _socket_reset(stream: httpcore.AsyncNetworkStream) -> bool:
    sock = stream.get_extra_info("socket")
    if sock is None:
        return False
    try:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)) in _RESET_ERRNOS
    except (OSError, ValueError):
        return False


class WatchedStream(httpcore.AsyncNetworkStream):
    """A network stream that reports response bytes and resets to the current attempt."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        evidence = _ATTEMPT.get()
        try:
            data = await self._inner.read(max_bytes, timeout)
        except httpcore.ReadError as exc:
            if evidence is not None and was_reset(exc, evidence):
                evidence.reset = True
            raise
        if evidence is not None:
            if data:
                evidence.received_bytes += len(data)
            elif _socket_reset(self._inner):
                evidence.reset = True
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return WatchedStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class WatchedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default network backend, its streams wrapped in ``WatchedStream``."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return WatchedStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return WatchedStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def watched_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connection pool uses ``WatchedBackend``.

    httpx builds its pool without a backend parameter, so the pool is rebuilt with the same
    limits; ``is_watched`` tells whether that took (tests check it stays so).
    """
    transport = httpx.AsyncHTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool):
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=getattr(pool, "_ssl_context", None) or httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=WatchedBackend(),
        )
    return transport


def is_watched(transport: httpx.AsyncBaseTransport) -> bool:
    """Whether ``transport``'s pool reports resets to the retry rule."""
    pool = getattr(transport, "_pool", None)
    return isinstance(getattr(pool, "_network_backend", None), WatchedBackend)
