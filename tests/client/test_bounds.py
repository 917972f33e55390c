"""The client's caps (``client.limits``): lines assembled in linear time up to their cap,
events, replies and decompression bounded, nesting bounded without recursion."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from pytest_llmserver.client import LLMProtocolError, ModelClient
from pytest_llmserver.client._body import Inflater, LineSplitter
from pytest_llmserver.client._checks import ShapeError, loads, too_deep
from pytest_llmserver.client.limits import (
    MAX_INFLATE_PIECE_BYTES,
    MAX_LINE_BYTES,
    MAX_NESTING_DEPTH,
)

MIB = 1 << 20


class Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def transport(body: bytes, size: int, kind: str = "text/event-stream") -> httpx.MockTransport:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"content-type": kind}, stream=Chunks(chunks))
    )


def sse_event(content: str) -> bytes:
    chunk = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": "stop"}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n"


async def complete(body: bytes, size: int) -> str:
    async with ModelClient({"url": "http://mock"}, "m", transport=transport(body, size)) as client:
        return (await client.complete([{"role": "user", "content": "q"}])).content


async def test_a_long_line_cut_in_small_chunks_is_assembled_in_linear_time() -> None:
    """15 MiB in 4 KiB reads: 3,840 pieces of one line, joined once (quadratic joining of a
    32 MB line took 27.5 s)."""
    text = "x" * (15 * MIB)
    started = time.perf_counter()
    assert await complete(sse_event(text), 4096) == text
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("size", [4096, 64 * 1024, 20 * MIB])
async def test_a_line_over_the_cap_is_a_protocol_error(size: int) -> None:
    with pytest.raises(LLMProtocolError, match=f"longer than {MAX_LINE_BYTES} bytes"):
        await complete(sse_event("x" * (MAX_LINE_BYTES + 10)), size)


async def test_an_event_of_many_data_lines_is_capped_too() -> None:
    line = b"data: " + b"x" * (MIB - 7) + b"\n"
    body = line * 17 + b"\n"  # 17 lines of 1 MiB: one event of 17 MiB
    with pytest.raises(LLMProtocolError, match=r"event in the stream from \S+ is longer than"):
        await complete(body, 64 * 1024)


def test_line_splitter_takes_lf_cr_and_crlf_even_cut_between_chunks() -> None:
    splitter = LineSplitter("u")
    got = []
    for chunk in [b"a\r", b"\nb\rc", b"\r\n", b"\n", b"d\ne", b"\r"]:
        got += splitter.split(chunk)
    assert got == [b"a", b"b", b"c", b"", b"d", b"e"]
    assert splitter.rest() == b""


def test_a_compression_bomb_is_inflated_a_bounded_piece_at_a_time() -> None:
    bomb = zlib.compress(b"0" * (64 * MIB), 9)
    assert len(bomb) < 100 * 1024
    inflater = Inflater("deflate", "u")
    pieces = inflater.feed(bomb)
    assert max(map(len, pieces)) <= MAX_INFLATE_PIECE_BYTES
    assert sum(map(len, pieces)) == 64 * MIB
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    deflated = raw.compress(b"hello") + raw.flush()
    assert b"".join(Inflater("deflate", "u").feed(deflated)) == b"hello"  # raw deflate too
    with pytest.raises(LLMProtocolError, match="is not valid gzip"):
        Inflater("gzip", "u").feed(b"definitely not gzip")
    with pytest.raises(LLMProtocolError, match="Content-Encoding 'br'"):
        Inflater("br", "u")


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH + 1, 5000, 200_000])
def test_json_nested_past_the_cap_is_a_shape_error_never_a_recursion_error(depth: int) -> None:
    data = b"[" * depth + b"]" * depth
    with pytest.raises(ShapeError, match=f"nested deeper than {MAX_NESTING_DEPTH} levels"):
        loads(data)


def test_json_at_the_cap_is_fine_and_the_walk_needs_no_recursion() -> None:
    at_cap = b"[" * MAX_NESTING_DEPTH + b"]" * MAX_NESTING_DEPTH
    assert isinstance(loads(at_cap), list)
    assert not too_deep({"a": [1, {"b": [2]}]}, limit=4)  # object, array, object, array
    assert too_deep({"a": [1, {"b": [2]}]}, limit=3)
    assert loads(b' {"a": 1} ') == {"a": 1}  # leading white space takes the full path
    with pytest.raises(ShapeError, match="Extra data"):
        loads(b'{"a": 1} x')
