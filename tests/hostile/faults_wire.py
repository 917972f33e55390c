"""Faults in how bytes arrive: time (slowloris, drips, stalls), framing (closes, resets, bad
chunking, line endings), size (huge bodies, lines, compression bombs), status and type.

Where it makes sense a fault also answers discovery's GET routes the same hostile way.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
import zlib
from collections.abc import Callable
from typing import Any

from pytest_llmserver.client import ChatResponse, LLMError
from tests.hostile.context import Context, Fault, Play
from tests.hostile.faults_fields import answer_is
from tests.hostile.replies import ANSWER, content_type, frame, healthy
from tests.hostile.wire import LAST_CHUNK, Head, chunk, head, send_json, send_whole

DRIP_S = 0.05
BLOCK = 64 * 1024
API_KEY = "sk-hostile-0123456789abcdef"
"""The key the matrix sends; ``key_echo_401`` echoes it back."""


def fault(
    name: str,
    doc: str,
    openai: str,
    ollama: str | None = None,
    *,
    check: Callable[[ChatResponse], Any] | None = None,
    check_error: Callable[[Exception], Any] | None = None,
    stream: bool = True,
    slow: bool = False,
) -> Callable[[Play], Fault]:
    """Decorator: the coroutine is the fault's ``play``."""

    def make(play: Play) -> Fault:
        return Fault(name, doc, play, openai, ollama or openai, check, check_error, stream, slow)

    return make


def gone(ctx: Context) -> bool:
    """Whether the client has closed its side."""
    return ctx.reader.at_eof() or ctx.writer.is_closing()


async def drip(ctx: Context, data: bytes) -> bool:
    """Send ``data`` one byte per ``DRIP_S`` until done or the client leaves."""
    for i in range(len(data)):
        if gone(ctx):
            return False
        await ctx.send(data[i : i + 1])
        await asyncio.sleep(DRIP_S)
    return False


async def flood(ctx: Context, block: bytes, total: int) -> bool:
    """Send ``block`` again and again, up to ``total`` bytes, until the client leaves."""
    sent = 0
    while sent < total and not gone(ctx):
        await ctx.send(block)
        sent += len(block)
    return False


def _start(ctx: Context, kind: str | None = None, **extra: str) -> bytes:
    api = ctx.api or "openai"
    return head(200, kind or content_type(api), transfer_encoding="chunked", **extra).encode()


# Time -------------------------------------------------------------------------------------


@fault("slowloris_headers", "response headers one byte every 50 ms", "timeout", slow=True)
async def slowloris_headers(ctx: Context) -> bool:
    return await drip(ctx, b"HTTP/1.1 200 OK\r\n" + b"X-Drip: slowly\r\n" * 1000)


@fault("slow_error_body", "HTTP 500 whose body arrives one byte every 50 ms", "timeout", slow=True)
async def slow_error_body(ctx: Context) -> bool:
    await ctx.send(head(500, "application/json", content_length="10000").encode())
    return await drip(ctx, b'{"error": {"message": "' + b"s" * 9000)


@fault("stall_before_headers", "reads the request, then says nothing", "timeout", slow=True)
async def stall_before_headers(ctx: Context) -> bool:
    return await ctx.hang()


@fault("stall_mid_stream", "two events, then silence", "timeout", slow=True)
async def stall_mid_stream(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.hang()
    await ctx.send(_start(ctx))
    for event in healthy(ctx.api)[:2]:
        await ctx.send(chunk(frame(ctx.api, event)))
    return await ctx.hang()


@fault(
    "drip_then_stall",
    "an event every 50 ms for most of the deadline, then silence",
    "timeout",
    slow=True,
)
async def drip_then_stall(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.hang()
    await ctx.send(_start(ctx))
    event = healthy(ctx.api)[1 if ctx.api == "openai" else 0]  # "Hello"
    for _ in range(4):  # 0.2 s of the matrix's 0.3 s deadline
        await ctx.send(chunk(frame(ctx.api, event)))
        await asyncio.sleep(0.05)
    return await ctx.hang()


@fault(
    "slow_whole_reply",
    "a non-streamed reply one byte every 50 ms",
    "timeout",
    stream=False,
    slow=True,
)
async def slow_whole_reply(ctx: Context) -> bool:
    await ctx.send(head(200, "application/json", content_length="5000").encode())
    return await drip(ctx, b"{" + b" " * 4999)


# Framing ----------------------------------------------------------------------------------


@fault("close_mid_stream", "two events, then the connection closes", "closed")
async def close_mid_stream(ctx: Context) -> bool:
    if ctx.api is None:
        return False
    await ctx.send(_start(ctx))
    for event in healthy(ctx.api)[:2]:
        await ctx.send(chunk(frame(ctx.api, event)))
    return False


@fault("close_after_request", "reads the whole request, then closes", "closed")
async def close_after_request(ctx: Context) -> bool:
    return False


@fault("reset_after_request", "reads the whole request, then resets (SO_LINGER 0)", "closed")
async def reset_after_request(ctx: Context) -> bool:
    sock = ctx.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


@fault("broken_chunking", "a chunk size that is not hexadecimal", "closed")
async def broken_chunking(ctx: Context) -> bool:
    await ctx.send(_start(ctx) + b"zz\r\nnot a chunk\r\n")
    return False


@fault("short_body", "Content-Length 5000, then 1 event and a close", "closed")
async def short_body(ctx: Context) -> bool:
    api = ctx.api or "openai"
    body = frame(api, healthy(api)[0])
    await ctx.send(head(200, content_type(api), content_length="5000").encode() + body)
    return False


@fault("empty_200", "200 with an empty body", "closed")
async def empty_200(ctx: Context) -> bool:
    await send_whole(ctx.writer, 200, b"", content_type(ctx.api or "openai"))
    return True


@fault("redirect", "302 to another place (not followed)", "closed")
async def redirect(ctx: Context) -> bool:
    await ctx.send(
        Head(302, "Found", [("Location", "http://127.0.0.1:9/"), ("Content-Length", "0")]).encode()
    )
    return True


@fault("garbage_status_line", "a status line that is not HTTP", "closed")
async def garbage_status_line(ctx: Context) -> bool:
    await ctx.send(b"HTTP/1.1 abc\r\n\r\n")
    return False


@fault("huge_headers", "200 KB of response headers", "closed")
async def huge_headers(ctx: Context) -> bool:
    await ctx.send(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 200_000 + b"\r\n\r\n")
    return False


@fault("cr_line_endings", "lines ended by CR alone", "ok", check=answer_is(ANSWER))
async def cr_line_endings(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.healthy()
    return await ctx.stream(healthy(ctx.api), end=b"\r")


@fault("crlf_line_endings", "lines ended by CRLF", "ok", check=answer_is(ANSWER))
async def crlf_line_endings(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.healthy()
    return await ctx.stream(healthy(ctx.api), end=b"\r\n")


@fault(
    "comments_and_pings",
    "SSE comments and fields / blank NDJSON lines",
    "ok",
    check=answer_is(ANSWER),
)
async def comments_and_pings(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.healthy()
    await ctx.send(_start(ctx))
    extra = b": ping\n\nevent: message\nid: 7\nretry: 10\n" if ctx.api == "openai" else b"\n \n"
    for event in healthy(ctx.api):
        await ctx.send(chunk(extra + frame(ctx.api, event)))
    await ctx.send(LAST_CHUNK)
    return True


# Type and status --------------------------------------------------------------------------


HTML = b"<html><body><h1>Router login</h1></body></html>"


@fault("html_page", "200 text/html (a router's login page)", "protocol")
async def html_page(ctx: Context) -> bool:
    await send_whole(ctx.writer, 200, HTML, "text/html")
    return True


@fault(
    "wrong_content_type",
    "the healthy stream as text/plain (Ollama's type is not checked)",
    "protocol",
    "ok",
)
async def wrong_content_type(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.healthy()
    return await ctx.stream(healthy(ctx.api), kind="text/plain")


def key_not_echoed(error: Any, says: str = "invalid api key") -> None:
    assert isinstance(error, LLMError)
    assert API_KEY not in str(error)
    assert API_KEY not in getattr(error, "server_message", "")
    assert says in str(error)
    assert "[redacted]" in str(error)


@fault(
    "key_echo_401", "401 whose body echoes the API key", "http_status", check_error=key_not_echoed
)
async def key_echo_401(ctx: Context) -> bool:
    auth = ctx.request.headers.get("authorization", "")
    await send_json(ctx.writer, 401, {"error": {"message": f"invalid api key: {auth}"}})
    return True


@fault(
    "key_echo_event",
    "an error event inside the stream that echoes the API key",
    "server_error_event",
    check_error=key_not_echoed,
)
async def key_echo_event(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.healthy()
    auth = ctx.request.headers.get("authorization", "")
    error = {"error": {"message": f"invalid api key: {auth}"}}
    return await ctx.stream([healthy(ctx.api)[0], error])


@fault(
    "key_echo_bad_event",
    "a malformed event whose excerpt holds the API key",
    "protocol",
    check_error=lambda error: key_not_echoed(error, "malformed"),
)
async def key_echo_bad_event(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.healthy()
    auth = ctx.request.headers.get("authorization", "")
    return await ctx.stream([f'{{"oops": "{auth}" '.encode()])


@fault("http_500_json", "HTTP 500 with a JSON error", "http_status")
async def http_500_json(ctx: Context) -> bool:
    await send_json(ctx.writer, 500, {"error": {"message": "internal error", "code": 500}})
    return True


@fault("html_502", "HTTP 502 with an HTML body (a proxy)", "http_status")
async def html_502(ctx: Context) -> bool:
    await send_whole(ctx.writer, 502, b"<html>" + b"Bad gateway " * 100 + b"</html>", "text/html")
    return True


@fault("context_overflow_400", "HTTP 400 saying the prompt exceeds the context", "context_overflow")
async def context_overflow_400(ctx: Context) -> bool:
    message = "the request exceeds the available context size, try increasing it"
    await send_json(
        ctx.writer, 400, {"error": {"message": message, "type": "exceed_context_size_error"}}
    )
    return True


# Size -------------------------------------------------------------------------------------

HUGE_BYTES = 300 * 1024 * 1024


def error_body_capped(error: Any) -> None:
    assert "first 65536 bytes" in str(error), str(error)


@fault(
    "huge_error_body",
    "HTTP 500 offering a 300 MB body",
    "http_status",
    check_error=error_body_capped,
)
async def huge_error_body(ctx: Context) -> bool:
    await ctx.send(head(500, "text/plain", content_length=str(HUGE_BYTES)).encode())
    return await flood(ctx, b"e" * BLOCK, HUGE_BYTES)


@fault("huge_line", "one 32 MB event (cap 16 MiB)", "protocol")
async def huge_line(ctx: Context) -> bool:
    if ctx.api is None:
        await ctx.send(head(200, "application/json", content_length=str(32 << 20)).encode())
        return await flood(ctx, b"[" * BLOCK, 32 << 20)
    await ctx.send(_start(ctx))
    await ctx.send(chunk(b"data: " if ctx.api == "openai" else b'{"x": "'))
    return await flood(ctx, chunk(b"a" * BLOCK), 32 << 20)


LONG = 15 * 1024 * 1024


def long_answer(response: ChatResponse) -> None:
    assert len(response.content) == LONG + len(" world")
    assert response.content.endswith("x world")


@fault(
    "long_event_under_cap",
    "one 15 MiB event in 64 KiB reads (under the 16 MiB cap)",
    "ok",
    check=long_answer,
)
async def long_event_under_cap(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.healthy()
    events = healthy(ctx.api)
    first = 1 if ctx.api == "openai" else 0
    event = events[first]
    assert isinstance(event, dict)
    part = event["choices"][0]["delta"] if ctx.api == "openai" else event["message"]
    part["content"] = "x" * LONG
    body = b"".join(frame(ctx.api, e) for e in events)
    await ctx.send(_start(ctx))
    for at in range(0, len(body), BLOCK):
        await ctx.send(chunk(body[at : at + BLOCK]))
    await ctx.send(LAST_CHUNK)
    return True


def gzip_bomb_blocks() -> tuple[bytes, bytes]:
    """A gzip header plus the compressed form of one MiB of zeros (repeatable: one long line)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = z.compress(b"data: ") + z.flush(zlib.Z_SYNC_FLUSH)
    block = z.compress(b"0" * (1 << 20)) + z.flush(zlib.Z_SYNC_FLUSH)
    return first, block


@fault("gzip_bomb", "gzip that expands 1000:1 into one endless line", "protocol")
async def gzip_bomb(ctx: Context) -> bool:
    first, block = gzip_bomb_blocks()
    kind = content_type(ctx.api or "openai") if ctx.api else "application/json"
    await ctx.send(_start(ctx, kind, content_encoding="gzip") + chunk(first))
    return await flood(ctx, chunk(block), 10 << 30)


@fault(
    "gzip_stream",
    "the healthy stream, gzip-compressed (decoded, bounded)",
    "ok",
    check=answer_is(ANSWER),
)
async def gzip_stream(ctx: Context) -> bool:
    if ctx.api is None:
        return await ctx.healthy()
    body = b"".join(frame(ctx.api, e) for e in healthy(ctx.api))
    await ctx.send(_start(ctx, content_encoding="gzip") + chunk(gzip.compress(body)) + LAST_CHUNK)
    return True


@fault("bad_gzip", "Content-Encoding gzip over bytes that are not gzip", "protocol")
async def bad_gzip(ctx: Context) -> bool:
    await ctx.send(_start(ctx, content_encoding="gzip") + chunk(b"not gzip at all") + LAST_CHUNK)
    return True


@fault("unknown_encoding", "Content-Encoding br, which the client did not ask for", "protocol")
async def unknown_encoding(ctx: Context) -> bool:
    await ctx.send(_start(ctx, content_encoding="br") + chunk(b"\x1b\x00") + LAST_CHUNK)
    return True


# Whole (non-streamed) replies ---------------------------------------------------------------


@fault(
    "whole_not_a_reply",
    "a non-streamed 200 of the wrong shape (no choices / message a number)",
    "protocol",
    stream=False,
)
async def whole_not_a_reply(ctx: Context) -> bool:
    body = {"object": "list", "data": []} if ctx.api == "openai" else {"message": 5, "done": True}
    await send_json(ctx.writer, 200, body)
    return True


@fault(
    "whole_error_object",
    "a non-streamed 200 that is an error object",
    "server_error_event",
    stream=False,
)
async def whole_error_object(ctx: Context) -> bool:
    await send_json(ctx.writer, 200, {"error": {"message": "model crashed"}})
    return True


@fault("whole_huge", "a non-streamed reply of 20 MB (cap 16 MiB)", "protocol", stream=False)
async def whole_huge(ctx: Context) -> bool:
    await ctx.send(head(200, "application/json", content_length=str(20 << 20)).encode())
    return await flood(ctx, b" " * BLOCK, 20 << 20)


WIRE_FAULTS: tuple[Fault, ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, Fault)
)
"""Every fault in how bytes arrive, in the order above."""
