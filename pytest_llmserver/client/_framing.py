"""HTTP/1.1 response framing for the client's own transport: the head, then the body.

``parse_head`` reads a status line and headers (the caller caps their size); a body decoder
(``body_decoder``) turns the bytes of one socket read into the body bytes they carry, all of
them in one piece: several chunks of a chunked body that arrived together come out joined.
Anything that is not HTTP/1.1 as a client may read it is a ``FramingError`` naming the fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEAD_END = re.compile(rb"\r?\n\r?\n")
"""The blank line that ends a response head (CRLF, or bare LF as lenient parsers accept)."""

MAX_CHUNK_LINE_BYTES = 4096
"""A chunk-size line with its extensions, or one trailer line."""

_HEX = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"
_WS = b" \t"


class FramingError(ValueError):
    """Bytes that are not a lawful HTTP/1.x response; the text says what is wrong."""


@dataclass(frozen=True)
class ResponseHead:
    """A parsed status line and header block (names and values as sent)."""

    status: int
    reason: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    """Whether the response lets the connection carry another request."""
    chunked: bool
    length: int | None
    """``Content-Length``; ``None`` when absent (or when the body is chunked)."""


def _tokens(value: bytes) -> set[bytes]:
    return {t.strip(_WS).lower() for t in value.split(b",")}


def parse_head(head: bytes) -> ResponseHead:
    """The status line and headers of ``head`` (everything before the blank line)."""
    lines = head.split(b"\n")
    status_line = lines[0].rstrip(b"\r")
    parts = status_line.split(b" ", 2)
    version = parts[0]
    if len(parts) < 2 or version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise FramingError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    code = parts[1]
    if len(code) != 3 or code.strip(_DIGITS) or code[:1] == b"0":
        raise FramingError(f"not an HTTP status code: {status_line[:80]!r}")
    headers: list[tuple[bytes, bytes]] = []
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip(_WS))
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name.strip(_WS) != name or b" " in name:
            raise FramingError(f"malformed header line: {line[:80]!r}")
        headers.append((name, value.strip(_WS)))
    return _framed(int(code), parts[2] if len(parts) > 2 else b"", version, headers)


def _framed(
    status: int, reason: bytes, version: bytes, headers: list[tuple[bytes, bytes]]
) -> ResponseHead:
    connection: set[bytes] = set()
    coding: list[bytes] = []
    lengths: set[bytes] = set()
    for name, value in headers:
        key = name.lower()
        if key == b"connection":
            connection |= _tokens(value)
        elif key == b"transfer-encoding":
            coding.extend(t for t in _tokens(value) if t)
        elif key == b"content-length":
            lengths |= _tokens(value)
    if version == b"HTTP/1.1":
        keep_alive = b"close" not in connection
    else:
        keep_alive = b"keep-alive" in connection and b"close" not in connection
    chunked = False
    length: int | None = None
    if coding:
        if coding != [b"chunked"]:
            raise FramingError(f"unsupported Transfer-Encoding {b', '.join(coding)[:40]!r}")
        chunked = True
    elif lengths:
        value = lengths.pop()
        if lengths or not value or value.strip(_DIGITS):
            raise FramingError("invalid Content-Length")
        length = int(value)
    return ResponseHead(status, reason, version, headers, keep_alive, chunked, length)


class BodyDecoder:
    """Body bytes out of wire bytes, one socket read at a time. ``done`` once the body
    ended; ``extra`` holds bytes received after its end (the connection is then unusable)."""

    __slots__ = ("done", "extra")
    until_close = False

    def __init__(self) -> None:
        self.done = False
        self.extra = False

    def feed(self, data: bytes) -> bytes:
        """The body bytes in ``data``."""
        self.extra = self.extra or bool(data)
        return b""

    def missing(self) -> str:
        """What an early end of the connection left out."""
        return "the body"


class LengthBody(BodyDecoder):
    """A body of ``Content-Length`` bytes."""

    __slots__ = ("_expected", "_left")

    def __init__(self, length: int) -> None:
        super().__init__()
        self._expected = length
        self._left = length
        self.done = length == 0

    def feed(self, data: bytes) -> bytes:
        left = self._left
        if self.done:
            self.extra = self.extra or bool(data)
            return b""
        if len(data) < left:
            self._left = left - len(data)
            return data
        self._left = 0
        self.done = True
        if len(data) > left:
            self.extra = True
            return data[:left]
        return data

    def missing(self) -> str:
        got = self._expected - self._left
        return f"received {got} bytes, expected {self._expected}"


class CloseBody(BodyDecoder):
    """A body that ends when the server closes the connection (no length, not chunked)."""

    __slots__ = ()
    until_close = True

    def feed(self, data: bytes) -> bytes:
        return data


_SIZE, _DATA, _DATA_END, _TRAILER = range(4)


class ChunkedBody(BodyDecoder):
    """A ``Transfer-Encoding: chunked`` body. All chunk data in one read comes out as one
    piece; chunk-size lines and trailers are held across reads (each at most
    ``MAX_CHUNK_LINE_BYTES``)."""

    __slots__ = ("_left", "_line", "_state")

    def __init__(self) -> None:
        super().__init__()
        self._state = _SIZE
        self._left = 0
        self._line = b""

    def feed(self, data: bytes) -> bytes:
        if self.done:
            self.extra = self.extra or bool(data)
            return b""
        out: list[bytes] = []
        pos = 0
        end = len(data)
        state = self._state
        left = self._left
        while pos < end:
            if state == _DATA:
                stop = pos + left
                if stop > end:
                    out.append(data[pos:] if pos else data)
                    left -= end - pos
                    break
                out.append(data[pos:stop])
                pos = stop
                left = 0
                state = _DATA_END
                if data[pos : pos + 2] == b"\r\n":  # the usual case, inline
                    pos += 2
                    state = _SIZE
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._hold(data[pos:])
                break
            line = self._line + data[pos:newline] if self._line else data[pos:newline]
            self._line = b""
            pos = newline + 1
            if len(line) > MAX_CHUNK_LINE_BYTES:
                raise FramingError(f"chunk line longer than {MAX_CHUNK_LINE_BYTES} bytes")
            if line.endswith(b"\r"):
                line = line[:-1]
            if state == _SIZE:
                left = _chunk_size(line)
                state = _DATA if left else _TRAILER
            elif state == _DATA_END:
                if line:
                    raise FramingError("chunk data longer than its size")
                state = _SIZE
            elif not line:  # the blank line after the last chunk (and any trailers)
                self.done = True
                self.extra = pos < end
                break
        self._state = state
        self._left = left
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)

    def _hold(self, part: bytes) -> None:
        self._line += part
        if len(self._line) > MAX_CHUNK_LINE_BYTES:
            raise FramingError(f"chunk line longer than {MAX_CHUNK_LINE_BYTES} bytes")

    def missing(self) -> str:
        return "incomplete chunked read"


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip(_WS)
    if not size or size.strip(_HEX):
        raise FramingError(f"invalid chunk size line {line[:40]!r}")
    return int(size, 16)


def body_decoder(head: ResponseHead, head_request: bool) -> BodyDecoder:
    """The decoder for the body that follows ``head`` (none for HEAD, 1xx, 204 and 304)."""
    status = head.status
    if head_request or status < 200 or status in (204, 304):
        decoder = BodyDecoder()
        decoder.done = True
        return decoder
    if head.chunked:
        return ChunkedBody()
    if head.length is not None:
        return LengthBody(head.length)
    return CloseBody()
