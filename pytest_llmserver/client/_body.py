"""A reply's body read within bounds: content decoding, size caps, lines in linear time.

The client asks for ``Accept-Encoding: identity`` and reads raw bytes; a server that
compresses anyway (gzip or deflate) is decoded here a bounded piece at a time, so a
compression bomb costs at most ``MAX_RESPONSE_BYTES`` of work and ``MAX_INFLATE_PIECE_BYTES``
of memory at once. Any other encoding is an ``LLMProtocolError``.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, AsyncIterator

import httpx

from pytest_llmserver.client.errors import LLMProtocolError
from pytest_llmserver.client.limits import (
    MAX_INFLATE_PIECE_BYTES,
    MAX_LINE_BYTES,
    MAX_RESPONSE_BYTES,
)

_GZIP = ("gzip", "x-gzip")


def content_encoding(response: httpx.Response) -> str:
    """The coding of the pieces ``raw_pieces`` gives, lower case; ``""`` for none (or
    ``identity``, or a body already read and so decoded)."""
    if response.is_stream_consumed:
        return ""
    value = response.headers.get("content-encoding", "").strip().lower()
    return "" if value == "identity" else value


async def _read_before(response: httpx.Response) -> AsyncIterator[bytes]:
    yield response.content


def raw_pieces(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it comes off the wire (``aiter_raw``); a body something read before the
    client saw it (respx's httpx mocker does) as its content, in one piece."""
    return _read_before(response) if response.is_stream_consumed else response.aiter_raw()


class Inflater:
    """Decodes a gzip or deflate body in pieces of at most ``MAX_INFLATE_PIECE_BYTES``."""

    __slots__ = ("_encoding", "_started", "_url", "_z")

    def __init__(self, encoding: str, url: str) -> None:
        if encoding not in (*_GZIP, "deflate"):
            raise LLMProtocolError(
                f"{url} answered with Content-Encoding {encoding[:40]!r}, which the client "
                "did not ask for and does not decode",
                url=url,
            )
        self._encoding = encoding
        self._url = url
        self._started = False
        wbits = 16 + zlib.MAX_WBITS if encoding in _GZIP else zlib.MAX_WBITS
        self._z = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> list[bytes]:
        """Decoded pieces of ``data`` (each at most ``MAX_INFLATE_PIECE_BYTES``)."""
        first = not self._started
        try:
            return self._pieces(data)
        except zlib.error as exc:
            problem = str(exc)
        if first and self._encoding == "deflate":
            # Some servers send raw deflate (no zlib header), as httpx also accepts.
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                return self._pieces(data)
            except zlib.error as exc:
                problem = str(exc)
        raise LLMProtocolError(
            f"body from {self._url} is not valid {self._encoding}: {problem}", url=self._url
        )

    def _pieces(self, data: bytes) -> list[bytes]:
        z = self._z
        pieces = [z.decompress(data, MAX_INFLATE_PIECE_BYTES)]
        self._started = True
        while z.unconsumed_tail:
            pieces.append(z.decompress(z.unconsumed_tail, MAX_INFLATE_PIECE_BYTES))
        return pieces


async def decoded_chunks(response: httpx.Response, url: str) -> AsyncGenerator[bytes, None]:
    """The body as decoded chunks, at most ``MAX_RESPONSE_BYTES`` in all."""
    encoding = content_encoding(response)
    inflater = Inflater(encoding, url) if encoding else None
    total = 0
    async for raw in raw_pieces(response):
        for chunk in inflater.feed(raw) if inflater is not None else (raw,):
            total += len(chunk)
            if total > MAX_RESPONSE_BYTES:
                raise too_long("reply", url, MAX_RESPONSE_BYTES)
            yield chunk


async def read_capped(response: httpx.Response, cap: int, url: str) -> tuple[bytes, bool]:
    """The first ``cap`` decoded bytes of the body, and whether there was more (unread)."""
    parts: list[bytes] = []
    size = 0
    chunks = decoded_chunks(response, url)
    try:
        async for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(parts)[:cap], True
    finally:
        await chunks.aclose()
    return b"".join(parts), False


def too_long(what: str, url: str, cap: int) -> LLMProtocolError:
    """The error for a ``what`` from ``url`` over ``cap`` bytes."""
    return LLMProtocolError(f"{what} from {url} is longer than {cap} bytes", url=url)


class LineSplitter:
    """Cuts a byte stream into lines at CR, LF or CRLF, in linear time.

    A line cut across chunks is kept as a list of parts and joined once, when it ends; no
    line may exceed ``MAX_LINE_BYTES``. While ``idle`` (nothing held), a chunk of whole
    LF-ended lines up to ``MAX_LINE_BYTES`` long may be split by the caller directly.
    """

    __slots__ = ("_cr_end", "_parts", "_size", "_url", "idle")

    def __init__(self, url: str) -> None:
        self._url = url
        self._parts: list[bytes] = []
        self._size = 0
        self._cr_end = False
        self.idle = True

    def split(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes (without terminators); the rest is held."""
        if self._cr_end and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF cut between chunks
        if b"\r" in chunk:
            self._cr_end = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        else:
            self._cr_end = False
        if b"\n" not in chunk:
            self._hold(chunk)
            self.idle = not self._parts and not self._cr_end
            return []
        if self._parts:
            self._size += chunk.index(b"\n")
            self._check()
            self._parts.append(chunk)
            chunk = b"".join(self._parts)
            self._parts = []
        lines = chunk.split(b"\n")
        tail = lines.pop()
        self._size = 0
        if tail:
            self._hold(tail)
        if len(chunk) > MAX_LINE_BYTES and max(map(len, lines)) > MAX_LINE_BYTES:
            raise too_long("a line in the stream", self._url, MAX_LINE_BYTES)
        self.idle = not self._parts and not self._cr_end
        return lines

    def rest(self) -> bytes:
        """The unterminated last line, if any."""
        rest = b"".join(self._parts)
        self._parts = []
        self._size = 0
        self.idle = True
        return rest

    def _hold(self, part: bytes) -> None:
        if part:
            self._parts.append(part)
            self._size += len(part)
            self._check()

    def _check(self) -> None:
        if self._size > MAX_LINE_BYTES:
            raise too_long("a line in the stream", self._url, MAX_LINE_BYTES)
