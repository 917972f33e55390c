"""One HTTP/1.1 connection of the client's own transport, as an ``asyncio.Protocol``.

Bytes are taken where they arrive: ``data_received`` reads the clock, parses the response
head, decodes the body framing and queues each socket read's body bytes as one piece with its
arrival stamp, so a reader that runs late still sees when every piece came. The queue is
bounded (``pause_reading`` above ``HIGH_WATER_BYTES``), so the client's size caps stay memory
caps. Failures are httpx's exception types, raised to the reader once the queued pieces are
taken: ``RemoteProtocolError`` for framing faults and early closes, ``ReadError`` (caused by
the ``OSError``) for a broken connection, ``ReadTimeout`` after ``timeout`` seconds of waiting
in vain. The keep-alive evidence (``AttemptEvidence``) of the attempt that owns the
connection learns of the first response byte and of any reset.
"""

from __future__ import annotations

import asyncio
import collections
import select
from collections.abc import Callable
from typing import Any

import httpx

from pytest_llmserver.client._framing import (
    HEAD_END,
    BodyDecoder,
    FramingError,
    ResponseHead,
    body_decoder,
    parse_head,
)
from pytest_llmserver.client._keepalive import AttemptEvidence, socket_reset, was_reset

MAX_HEAD_BYTES = 64 * 1024
"""A response head (status line and headers) longer than this is a protocol error."""

HIGH_WATER_BYTES = 1024 * 1024
"""Unread body bytes at which the connection stops reading from its socket."""

LOW_WATER_BYTES = 256 * 1024
"""Unread body bytes at which it reads again."""

_IDLE, _HEAD, _BODY, _DONE = range(4)
_EARLY_S = 0.001  # timers may fire this early: the loop rounds to its clock resolution


class Connection(asyncio.Protocol):
    """One connection: send a request, then read its response head and body."""

    def __init__(self, origin: tuple[str, str, int], clock: Callable[[], int]) -> None:
        self.origin = origin
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.pieces: collections.deque[tuple[int, bytes]] = collections.deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._wait_end = 0.0
        self._writable: asyncio.Future[None] | None = None
        self._head = bytearray()
        self._head_request = False
        self._body: BodyDecoder = BodyDecoder()
        self._state = _IDLE
        self.head: ResponseHead | None = None
        self.error: Exception | None = None
        self.evidence: AttemptEvidence | None = None
        self.keep_alive = True
        self.eof = False
        self.lost = False
        self.idle_since = 0.0

    # asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        t_ns = self._clock()
        evidence = self.evidence
        if evidence is not None:
            evidence.received_bytes += len(data)
            self.evidence = None
        if self._state == _BODY:
            self._feed_body(t_ns, data)
        elif self._state == _HEAD:
            self._feed_head(t_ns, data)
        else:
            self.keep_alive = False  # bytes nobody asked for: never reuse

    def eof_received(self) -> bool:
        self.eof = True
        self.keep_alive = False
        evidence = self.evidence
        if evidence is not None and self.transport is not None:
            evidence.reset = socket_reset(self.transport.get_extra_info("socket"))
        if self._state == _HEAD:
            said = "without sending a response" if not self._head else "inside the response head"
            self._fail(httpx.RemoteProtocolError(f"Server disconnected {said}."))
        elif self._state == _BODY:
            body = self._body
            if body.until_close:
                body.done = True
                self._state = _DONE
                self._wake()
            else:
                self._fail(
                    httpx.RemoteProtocolError(
                        "peer closed connection without sending complete message body: "
                        + body.missing()
                    )
                )
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.keep_alive = False
        self._cancel_timer()
        if exc is None:
            if not self.eof:
                self.eof_received()
        elif self._state in (_HEAD, _BODY):
            if self.evidence is not None and was_reset(exc, self.evidence):
                self.evidence.reset = True
            error = httpx.ReadError(str(exc) or type(exc).__name__)
            error.__cause__ = exc
            self._fail(error)
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # Parsing -------------------------------------------------------------------------------

    def _feed_head(self, t_ns: int, data: bytes) -> None:
        buf = self._head
        start = max(0, len(buf) - 3)
        buf += data
        while True:
            found = HEAD_END.search(buf, start)
            if found is None or found.end() > MAX_HEAD_BYTES:
                if len(buf) > MAX_HEAD_BYTES:
                    self._fail(
                        httpx.RemoteProtocolError(
                            f"response head longer than {MAX_HEAD_BYTES} bytes"
                        )
                    )
                return
            rest = bytes(buf[found.end() :])
            try:
                head = parse_head(bytes(buf[: found.start()]))
                buf.clear()
                if head.status == 101:
                    raise FramingError("101 Switching Protocols is not supported")
                if head.status < 200:  # 100 Continue, 103 Early Hints: the answer follows
                    buf += rest
                    start = 0
                    continue
                self._body = body_decoder(head, self._head_request)
            except FramingError as exc:
                self._fail(httpx.RemoteProtocolError(str(exc)))
                return
            self.head = head
            self.keep_alive = self.keep_alive and head.keep_alive
            self._state = _BODY
            self._feed_body(t_ns, rest)
            return

    def _feed_body(self, t_ns: int, data: bytes) -> None:
        body = self._body
        try:
            out = body.feed(data)
        except FramingError as exc:
            self._fail(httpx.RemoteProtocolError(str(exc)))
            return
        if out:
            self.pieces.append((t_ns, out))
            self._buffered += len(out)
            if self._buffered > HIGH_WATER_BYTES and not self._paused:
                self._paused = True
                assert self.transport is not None
                self.transport.pause_reading()
        if body.done:
            self._state = _DONE
            if body.extra:
                self.keep_alive = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        self.keep_alive = False
        if self._state in (_HEAD, _BODY) and self.error is None:
            self.error = error
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # The request's side ----------------------------------------------------------------------

    async def send(
        self,
        data: bytes,
        *,
        head_request: bool,
        evidence: AttemptEvidence | None,
        timeout: float | None,
    ) -> None:
        """Write one request; its response is read next."""
        assert self.transport is not None
        self._state = _HEAD
        self._head.clear()
        self._head_request = head_request
        self.head = None
        self.evidence = evidence
        self.transport.write(data)
        writable = self._writable
        if writable is not None:
            try:
                await asyncio.wait_for(asyncio.shield(writable), timeout)
            except asyncio.TimeoutError:
                raise httpx.WriteTimeout("timed out writing the request") from None

    async def response_head(self, timeout: float | None) -> ResponseHead:
        """The response head, once it is in."""
        while self.head is None:
            if self.error is not None:
                raise self.error
            await self.wait(timeout)
        return self.head

    @property
    def done(self) -> bool:
        """Whether the body ended and every piece was taken."""
        return self._state == _DONE and not self.pieces

    def take(self) -> tuple[int, bytes]:
        """The oldest queued piece and its arrival stamp (the queue must not be empty)."""
        t_ns, data = self.pieces.popleft()
        self._buffered -= len(data)
        if self._paused and self._buffered <= LOW_WATER_BYTES:
            self._paused = False
            if self.transport is not None:
                self.transport.resume_reading()
        return t_ns, data

    async def wait(self, timeout: float | None) -> None:
        """Wait until a piece, the end or a failure comes; ``ReadTimeout`` after ``timeout``
        seconds. One timer serves every wait: it is re-armed only when it fires early."""
        if self.error is not None:
            raise self.error
        loop = self._loop
        waiter = self._waiter = loop.create_future()
        if timeout is not None:
            self._wait_end = end = loop.time() + timeout
            if self._timer is None:
                self._timer = loop.call_at(end, self._on_timer)
        try:
            await waiter
        finally:
            self._waiter = None

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._loop.time() + _EARLY_S >= self._wait_end:
            waiter.set_exception(httpx.ReadTimeout("timed out"))
        else:
            self._timer = self._loop.call_at(self._wait_end, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def finish(self) -> bool:
        """The response was read to its end: may the connection carry another request?"""
        self._state = _IDLE
        self.idle_since = self._loop.time()
        return self.keep_alive and not self.lost

    def usable(self, now: float, expiry: float | None) -> bool:
        """Whether this idle connection may carry a request (no EOF, no stray bytes, not
        idle for longer than ``expiry`` seconds)."""
        if not self.keep_alive or self.lost or self.error is not None:
            return False
        if expiry is not None and now - self.idle_since > expiry:
            return False
        return not _readable(self.transport)

    def close(self) -> None:
        """Close the connection (its response is abandoned)."""
        self.keep_alive = False
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()


def _readable(transport: asyncio.Transport | None) -> bool:
    """Whether a plain TCP socket holds bytes or an EOF the loop has not handled yet (an idle
    connection must hold neither). TLS connections are left to ``eof_received``."""
    if transport is None:
        return True
    if transport.get_extra_info("sslcontext") is not None:
        return False
    sock: Any = transport.get_extra_info("socket")
    if not hasattr(select, "poll"):  # Windows: left to eof_received
        return False
    try:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return True
