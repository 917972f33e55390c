"""Property-based fuzzing of both stream parsers through the real parsing path.

Healthy events of each protocol are mutated (any field set to any JSON value, NaN and
infinities included, deep nesting, broken or non-UTF-8 bytes, missing end markers), framed
with LF, CR or CRLF line ends, cut into arbitrary chunks and streamed through an httpx
transport into ``ModelClient``: it must return a response whose figures are physical, or raise
one of the documented errors, every time, quickly. 1,400 cases per run: 600 SSE streams,
600 NDJSON streams, 200 whole replies, the same ones every run (derandomized, so CI is
deterministic); ``LLM_FUZZ_EXAMPLES=20000 pytest tests/client/test_fuzz.py`` explores that many
fresh random streams per protocol instead.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmserver.client import (
    ChatResponse,
    LLMProtocolError,
    LLMServerEventError,
    LLMStreamClosedError,
    ModelClient,
    Timeouts,
)
from pytest_llmserver.client.limits import MAX_RATE_TPS, MAX_TOKEN_COUNT

DOCUMENTED = (LLMProtocolError, LLMStreamClosedError, LLMServerEventError)
"""What a malformed reply may raise (``LLMStreamClosedError`` is a protocol error)."""
DOCUMENTED_ERROR = LLMProtocolError | LLMServerEventError

EXPLORE = int(os.environ.get("LLM_FUZZ_EXAMPLES") or 0)
"""Random streams per protocol when exploring; 0 (the default): the fixed 600."""

FUZZ = settings(
    max_examples=EXPLORE or 600,
    derandomize=not EXPLORE,
    deadline=5000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OPENAI_EVENTS: list[dict[str, Any]] = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    {"choices": [{"index": 0, "delta": {"content": "Hi", "reasoning_content": "hm"}}]},
    {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": 1}'},
                        }
                    ]
                },
                "finish_reason": None,
            }
        ]
    },
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    {
        "choices": [],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 1},
            "completion_tokens_details": {"reasoning_tokens": 1},
        },
        "timings": {
            "prompt_n": 5,
            "prompt_ms": 4.0,
            "prompt_per_second": 1250.0,
            "predicted_n": 3,
            "predicted_ms": 2.0,
            "predicted_per_second": 1000.0,
            "cache_n": 1,
        },
    },
    {"error": {"message": "boom", "type": "server_error"}},
]
OLLAMA_EVENTS: list[dict[str, Any]] = [
    {"message": {"role": "assistant", "content": "Hi", "thinking": "hm"}, "done": False},
    {
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": {"a": [1, {"b": 2}]}}}],
        },
        "done": False,
    },
    {
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 5,
        "prompt_eval_duration": 4_000_000,
        "eval_count": 3,
        "eval_duration": 2_000_000,
    },
    {"error": "out of memory"},
]
TEMPLATES = {"openai": OPENAI_EVENTS, "ollama": OLLAMA_EVENTS}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


values = st.one_of(json_values, st.integers(min_value=60, max_value=300).map(nested))


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path in ``value``."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += paths(child, (*prefix, i))
    return found


@st.composite
def mutated_event(draw: st.DrawFn, api: str) -> bytes:
    """One template event with up to three fields replaced or removed, then maybe mangled."""
    event = copy.deepcopy(draw(st.sampled_from(TEMPLATES[api])))
    for _ in range(draw(st.integers(0, 3))):
        spots = paths(event)
        if not spots:
            break
        *parents, last = draw(st.sampled_from(spots))
        target = event
        for part in parents:
            target = target[part]
        if draw(st.booleans()) and isinstance(target, dict):
            del target[last]
        else:
            target[last] = draw(values)
    payload = json.dumps(event).encode()
    mangle = draw(st.integers(0, 9))
    if mangle == 0:  # cut short
        payload = payload[: draw(st.integers(0, len(payload)))]
    elif mangle == 1:  # bytes that are not UTF-8, or a stray line end, somewhere
        at = draw(st.integers(0, len(payload)))
        payload = (
            payload[:at]
            + draw(st.sampled_from([b"\xff\xfe", b"\r", b"\n", b"\x00"]))
            + payload[at:]
        )
    elif mangle == 2:  # not an object at all
        payload = draw(st.sampled_from([b"[1, 2]", b"5", b'"text"', b"null", b"", b"{"]))
    return payload


@st.composite
def bodies(draw: st.DrawFn, api: str) -> bytes:
    """A stream of mutated events, framed with one kind of line end, maybe with an end marker."""
    end = draw(st.sampled_from([b"\n", b"\r", b"\r\n"]))
    events = draw(st.lists(mutated_event(api), min_size=0, max_size=6))
    frames = []
    for payload in events:
        if api == "openai":
            comment = draw(st.sampled_from([b"", b": ping" + end, b"event: x" + end]))
            frames.append(comment + b"data: " + payload + end + end)
        else:
            frames.append(payload + end)
    if api == "openai" and draw(st.booleans()):
        frames.append(b"data: [DONE]" + end + end)
    return b"".join(frames)


chunkings = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=8)


def cut(body: bytes, sizes: list[int]) -> list[bytes]:
    """``body`` in chunks of the given sizes, cycling."""
    chunks, at, i = [], 0, 0
    while at < len(body):
        chunks.append(body[at : at + sizes[i % len(sizes)]])
        at += sizes[i % len(sizes)]
        i += 1
    return chunks


async def replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def fuzz_transport(chunks: list[bytes], content_type: str) -> httpx.MockTransport:
    """Answers with the generated bytes, in the generated chunks."""
    return httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"content-type": content_type}, content=replay(chunks)
        )
    )


def assert_physical(response: ChatResponse) -> None:
    """A response that got through holds only physical figures (nothing for percentiles to
    choke on)."""
    m = response.metrics
    assert 0 <= m.output_tokens <= MAX_TOKEN_COUNT
    assert m.prompt_tokens is None or 0 <= m.prompt_tokens <= MAX_TOKEN_COUNT
    assert m.cached_tokens is None or 0 <= m.cached_tokens <= MAX_TOKEN_COUNT
    for rate in (m.decode_tps, m.server_decode_tps, m.server_prefill_tps):
        assert rate is None or (math.isfinite(rate) and 0 <= rate <= MAX_RATE_TPS)
    for duration in (m.prompt_eval_duration_ns, m.eval_duration_ns):
        assert duration is None or duration >= 0
    for call in response.tool_calls:
        assert isinstance(call.name, str)
        assert call.arguments is None or isinstance(call.arguments, dict)
    json.dumps(m.to_dict(), allow_nan=False)  # a record writer can write it
    assert isinstance(response.content, str)


def run(api: str, chunks: list[bytes], *, stream: bool = True) -> None:
    """One request over the generated bytes: a physical response or a documented error."""
    content_type = {"openai": "text/event-stream", "ollama": "application/x-ndjson"}[api]

    async def go() -> ChatResponse:
        transport = fuzz_transport(chunks, content_type if stream else "application/json")
        async with ModelClient(
            {"url": "http://fuzz", "type": api},
            "m",
            transport=transport,
            timeouts=Timeouts.from_total(10),
        ) as client:
            return await asyncio.wait_for(
                client.complete([{"role": "user", "content": "q"}], tools=[{}], stream=stream), 10
            )

    try:
        response = asyncio.run(go())
    except DOCUMENTED as exc:
        error: DOCUMENTED_ERROR = exc
    else:
        assert_physical(response)
        return
    assert "\n" not in str(error)
    assert error.metrics is not None


def fuzz(api: str) -> Callable[[bytes, list[int]], None]:
    @FUZZ
    @given(body=bodies(api), sizes=chunkings)
    def test(body: bytes, sizes: list[int]) -> None:
        run(api, cut(body, sizes))

    return test


test_openai_sse_parser_returns_a_response_or_a_documented_error = fuzz("openai")
test_ollama_ndjson_parser_returns_a_response_or_a_documented_error = fuzz("ollama")


@settings(FUZZ, max_examples=100)
@given(payload=mutated_event("openai"), sizes=chunkings)
def test_openai_whole_reply_parser(payload: bytes, sizes: list[int]) -> None:
    whole = b'{"choices": [{"index": 0, "message": ' + payload + b', "finish_reason": "stop"}]}'
    run("openai", cut(whole, sizes), stream=False)


@settings(FUZZ, max_examples=100)
@given(payload=mutated_event("ollama"), sizes=chunkings)
def test_ollama_whole_reply_parser(payload: bytes, sizes: list[int]) -> None:
    run("ollama", cut(payload, sizes), stream=False)
