"""How many streamed events per second the client parses on one core, server out of the way.

Recorded-shape SSE (llama.cpp chunk objects) and NDJSON (Ollama lines) are replayed through an
in-memory httpx transport into ``ModelClient.complete``: the full client path (line splitting,
arrival stamps, JSON, reasoning split, metrics) runs, no socket does. The ceiling is a bare
``json.loads`` loop over the same bytes. Prints one row per case; exits 1 if a target is missed.

    python benchmarks/client_overhead.py [--events 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator

import httpx

from pytest_llmserver.client import ModelClient

TARGET_EVENTS_PER_S = 100_000
TARGET_SHARE_OF_CEILING = 0.5
WORDS = ("the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".")


def openai_events(n: int) -> list[bytes]:
    """``data:`` lines shaped like llama.cpp's chunks (about 230 bytes each)."""
    head = {
        "created": 1795553388,
        "id": "chatcmpl-5Tvi3zw0hGpidwC37bR55Wq3hB5ngnrO",
        "model": "smollm2-135m",
        "system_fingerprint": "b0-unknown",
        "object": "chat.completion.chunk",
    }
    events = []
    for i in range(n):
        chunk = {
            "choices": [
                {"finish_reason": None, "index": 0, "delta": {"content": WORDS[i % len(WORDS)]}}
            ],
            **head,
        }
        events.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    final = {"choices": [{"finish_reason": "length", "index": 0, "delta": {}}], **head}
    usage = {"choices": [], "usage": {"completion_tokens": n, "prompt_tokens": 9}, **head}
    events += [
        b"data: " + json.dumps(final).encode() + b"\n\n",
        b"data: " + json.dumps(usage).encode() + b"\n\n",
        b"data: [DONE]\n\n",
    ]
    return events


def ollama_events(n: int) -> list[bytes]:
    """NDJSON lines shaped like Ollama's ``/api/chat`` stream."""
    events = []
    for i in range(n):
        line = {
            "model": "qwen3:8b",
            "created_at": "2026-11-24T20:00:00.123456789Z",
            "message": {"role": "assistant", "content": WORDS[i % len(WORDS)]},
            "done": False,
        }
        events.append(json.dumps(line).encode() + b"\n")
    final = {
        "model": "qwen3:8b",
        "created_at": "2026-11-24T20:00:01Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "length",
        "total_duration": 1,
        "prompt_eval_count": 9,
        "prompt_eval_duration": 1,
        "eval_count": n,
        "eval_duration": 1,
    }
    events.append(json.dumps(final).encode() + b"\n")
    return events


class Replay(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers every request with the same recorded body, cut into the given chunks."""

    def __init__(self, chunks: list[bytes], content_type: str) -> None:
        self._chunks = chunks
        self._content_type = content_type

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": self._content_type}, stream=Replay(self._chunks)
        )


def chunked(events: list[bytes], per_read: int) -> list[bytes]:
    """Group events as socket reads would deliver them (``per_read`` events a read)."""
    return [b"".join(events[i : i + per_read]) for i in range(0, len(events), per_read)]


async def client_rate(api: str, events: list[bytes], per_read: int, repeat: int) -> float:
    content_type = "text/event-stream" if api == "openai" else "application/x-ndjson"
    transport = ReplayTransport(chunked(events, per_read), content_type)
    best = 0.0
    async with ModelClient({"url": "http://replay", "type": api}, "m", transport=transport) as c:
        for _ in range(repeat):
            start = time.perf_counter_ns()
            response = await c.complete([{"role": "user", "content": "go"}])
            elapsed_s = (time.perf_counter_ns() - start) * 1e-9
            assert response.metrics.token_events == len(events) - (3 if api == "openai" else 1)
            best = max(best, len(events) / elapsed_s)
    return best


def ceiling_rate(api: str, events: list[bytes], repeat: int) -> float:
    """Bare loop: split the same bytes into lines and ``json.loads`` each payload."""
    body = b"".join(events)
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for line in body.split(b"\n"):
            if api == "openai":
                if line.startswith(b"data: ") and line != b"data: [DONE]":
                    json.loads(line[6:])
            elif line:
                json.loads(line)
        elapsed_s = (time.perf_counter_ns() - start) * 1e-9
        best = max(best, len(events) / elapsed_s)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(
        f"python {sys.version.split()[0]}, httpx {httpx.__version__}, one core, "
        f"{args.events} events, best of {args.repeat}"
    )
    print(
        f"{'protocol':<8} {'events/read':>11} {'client ev/s':>12} {'json.loads ev/s':>16} "
        f"{'share':>6}  verdict"
    )
    ok = True
    for api, make in (("openai", openai_events), ("ollama", ollama_events)):
        events = make(args.events)
        ceiling = ceiling_rate(api, events, args.repeat)
        for per_read in (1, 16):
            rate = asyncio.run(client_rate(api, events, per_read, args.repeat))
            share = rate / ceiling
            passed = rate >= TARGET_EVENTS_PER_S and share >= TARGET_SHARE_OF_CEILING
            ok &= passed
            print(
                f"{api:<8} {per_read:>11} {rate:>12,.0f} {ceiling:>16,.0f} {share:>6.2f}  "
                f"{'ok' if passed else 'MISSED'}"
            )
    print(
        f"targets: >= {TARGET_EVENTS_PER_S:,} events/s and >= {TARGET_SHARE_OF_CEILING}x the "
        "json.loads ceiling"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
