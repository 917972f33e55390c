"""One HTTP exchange of ``ModelClient``: send, status, then the reply read within bounds.

Everything here waits on the network under one ``Deadline`` (``Timeouts.total_s``) and reads
at most the caps of ``limits``; httpx failures become typed errors (``map_http_errors``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from pytest_llmserver.client._api import ChatApi, StreamDecoder, server_message
from pytest_llmserver.client._body import (
    Inflater,
    LineSplitter,
    content_encoding,
    raw_pieces,
    read_capped,
    too_long,
)
from pytest_llmserver.client._deadline import Deadline
from pytest_llmserver.client._keepalive import ConnectionPolicy
from pytest_llmserver.client._transport import Clock, Timeouts, map_http_errors, post_traced
from pytest_llmserver.client._wire import DirectPost
from pytest_llmserver.client.errors import (
    LLMProtocolError,
    LLMStreamClosedError,
    LLMTimeoutError,
    status_error,
)
from pytest_llmserver.client.limits import (
    MAX_ERROR_BODY_BYTES,
    MAX_LINE_BYTES,
    MAX_RESPONSE_BYTES,
    MAX_WHOLE_REPLY_BYTES,
)
from pytest_llmserver.client.metrics import ChatMetrics
from pytest_llmserver.client.response import ResponseBuilder

_LINE_CAP = MAX_LINE_BYTES


class Exchange:
    """The parts of a ``ModelClient`` one request needs. ``url`` is the address requests go
    to (it may hold a password); ``shown_url`` is the one messages name."""

    __slots__ = ("clock", "direct", "http", "policy", "protocol", "shown_url", "timeouts", "url")

    def __init__(
        self,
        http: httpx.AsyncClient,
        protocol: ChatApi,
        url: str,
        shown_url: str,
        timeouts: Timeouts,
        clock: Clock,
        policy: ConnectionPolicy,
        direct: DirectPost | None = None,
    ) -> None:
        self.http = http
        self.direct = direct
        self.protocol = protocol
        self.url = url
        self.shown_url = shown_url
        self.timeouts = timeouts
        self.clock = clock
        self.policy = policy

    async def run(
        self,
        body: dict[str, Any],
        builder: ResponseBuilder,
        metrics: ChatMetrics,
        deliver: bool = True,
    ) -> AsyncIterator[str]:
        """Send ``body``; yield answer text as it arrives (``builder`` collects everything).
        With ``deliver`` false nothing is yielded: the caller wants the response only."""
        shown = self.shown_url
        content = json.dumps(body, ensure_ascii=False).encode()
        deadline = Deadline(self.timeouts.total_s, self.clock)
        try:
            with map_http_errors(shown, self.timeouts):
                response = await post_traced(
                    self.http,
                    self.url,
                    content,
                    metrics,
                    self.clock,
                    deadline,
                    self.policy,
                    self.direct,
                )
                try:
                    metrics.http_status = response.status_code
                    if response.status_code >= 400:
                        deadline.stage = f"the body of its HTTP {response.status_code} reply"
                        raise await self._status_error(response)
                    if body.get("stream"):
                        deadline.stage = "the stream"
                        pieces = self._read_stream(response, builder, deadline, deliver)
                        async for piece in pieces:
                            yield piece
                    else:
                        deadline.stage = "the reply"
                        piece = await self._read_whole(response, builder)
                        if piece and deliver:
                            deadline.waiting = False
                            since_ns = self.clock()
                            yield piece
                            deadline.resume(since_ns)
                finally:
                    deadline.waiting = False
                    await response.aclose()
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
            raise self._timeout(f"total deadline; waiting for {deadline.stage}") from None
        finally:
            deadline.close()

    def _timeout(self, detail: str) -> LLMTimeoutError:
        shown = self.shown_url
        return LLMTimeoutError(
            f"{shown} did not finish within {self.timeouts.total_s:g} s ({detail})",
            url=shown,
            phase="total",
        )

    async def _status_error(self, response: httpx.Response) -> Exception:
        body, more = await read_capped(response, MAX_ERROR_BODY_BYTES, self.shown_url)
        message = server_message(body)
        if more:
            message += f" (from the first {MAX_ERROR_BODY_BYTES} bytes of a longer body)"
        return status_error(response.status_code, message, self.shown_url)

    async def _read_whole(self, response: httpx.Response, builder: ResponseBuilder) -> str:
        """Decode a non-streamed reply; return its answer text."""
        shown = self.shown_url
        raw, more = await read_capped(response, MAX_WHOLE_REPLY_BYTES, shown)
        if more:
            raise too_long("reply", shown, MAX_WHOLE_REPLY_BYTES)
        t_ns = self.clock()
        self.protocol.decode_whole(raw, builder, t_ns, shown)
        builder.flush_text(t_ns)
        return "".join(builder.answer_parts)

    def _decoder(self, response: httpx.Response, builder: ResponseBuilder) -> StreamDecoder:
        shown = self.shown_url
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "text/html":
            raise LLMProtocolError(
                f"{shown} answered with an HTML page, not a {self.protocol.name} stream: "
                "is this an LLM API?",
                url=shown,
            )
        return self.protocol.decoder(builder, shown, content_type)

    async def _read_stream(
        self, response: httpx.Response, builder: ResponseBuilder, deadline: Deadline, deliver: bool
    ) -> AsyncIterator[str]:
        """Cut the body into lines and feed them to the decoder, each stamped with the arrival
        of its piece (taken by the transport where it can, else when the piece comes here)."""
        shown = self.shown_url
        decoder = self._decoder(response, builder)
        encoding = content_encoding(response)
        inflater = Inflater(encoding, shown) if encoding else None
        lines = LineSplitter(shown)
        clock = self.clock
        arrival = response.extensions.get("llm_arrival")
        if getattr(arrival, "clock", None) is not clock:
            arrival = None  # stamps of another clock (or none): stamp here
        feed = decoder.feed_line
        split = lines.split
        received = 0
        t_ns = 0
        async for raw in raw_pieces(response):
            t_ns = arrival.t_ns if arrival is not None else clock()
            if t_ns > deadline.end_ns:
                raise self._timeout("total deadline")
            for chunk in inflater.feed(raw) if inflater is not None else (raw,):
                received += len(chunk)
                if received > MAX_RESPONSE_BYTES:
                    raise too_long("stream", shown, MAX_RESPONSE_BYTES)
                if (
                    lines.idle
                    and chunk.endswith(b"\n")
                    and b"\r" not in chunk
                    and len(chunk) < _LINE_CAP
                ):
                    found = chunk.split(b"\n")  # whole lines: the common case, inline
                    found.pop()
                else:
                    found = split(chunk)
                for line in found:
                    piece = feed(line, t_ns)
                    if piece and deliver:
                        deadline.waiting = False
                        since_ns = clock()
                        yield piece  # the consumer's time is not the request's
                        deadline.resume(since_ns)
        deadline.waiting = False  # nothing more to wait for
        rest = lines.rest()
        piece = (feed(rest, t_ns) if rest else "") + decoder.end(t_ns) + builder.flush_text(t_ns)
        if piece and deliver:
            yield piece
        if not decoder.done and not builder.finish_reason:
            raise LLMStreamClosedError(
                f"stream from {shown} ended before its end marker", url=shown
            )
