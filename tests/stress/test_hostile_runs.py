"""Stress modes through the real client against a raw server that mixes malformed-but-parseable
replies into good ones: whatever the client makes of a bad reply (a protocol error, an internal
one, or nothing), each request is exactly one record and the run finishes with its report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.stress import StressTester, TestStats, iter_records


def _event(payload: object) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _good(text: str) -> str:
    chunk = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}]}
    done = {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    }
    return _event(chunk) + _event(done) + "data: [DONE]\n\n"


HOSTILE: tuple[str, ...] = (
    _event({"choices": "not a list"}) + "data: [DONE]\n\n",
    _event({"choices": [{"index": 0, "delta": {"content": 5}}]}) + "data: [DONE]\n\n",
    _good("x").replace('"prompt_tokens": 7', '"prompt_tokens": "seven"'),
    "data: " + "[" * 100_000 + "]" * 100_000 + "\n\ndata: [DONE]\n\n",
    _event({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": "a"}]}}]})
    + "data: [DONE]\n\n",
    _event({"choices": [{"index": 0, "message": 7}]}) + "data: [DONE]\n\n",
)
"""Replies every line of which is valid SSE and JSON, but not what the protocol says."""


class HostileServer:
    """HTTP/1.1 with keep-alive on loopback; every ``every``-th chat request gets the next
    ``HOSTILE`` reply, the others a good stream. ``chats`` counts chat requests."""

    def __init__(self, every: int = 4) -> None:
        self.every = every
        self.chats = 0
        self.url = ""
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for connection in self._connections:
            connection.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    def _body(self, path: str) -> tuple[str, str]:
        if not path.endswith("/chat/completions"):
            return "application/json", json.dumps({"error": {"message": "not here"}})
        number = self.chats
        self.chats += 1
        if number % self.every == self.every - 1:
            return "text/event-stream", HOSTILE[(number // self.every) % len(HOSTILE)]
        return "text/event-stream", _good(f"reply {number}")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while line := await reader.readline():
                path = line.decode("latin-1").split(" ")[1]
                length = 0
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                kind, text = self._body(path)
                body = text.encode()
                status = "200 OK" if kind == "text/event-stream" else "404 Not Found"
                head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._connections.discard(task)


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


Run = Callable[[StressTester], Coroutine[Any, Any, TestStats]]


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda t: t.run_throughput_test(concurrency=4, total=24), id="throughput"),
        pytest.param(lambda t: t.run_sustained_load_test(rpm=3000, duration=0.6), id="sustained"),
        pytest.param(lambda t: t.run_consistency_test(12), id="consistency"),
        pytest.param(
            lambda t: t.run_realistic_user_test(20.0, "long", duration=0.6, think_median_s=0.01),
            id="realistic_user",
        ),
        pytest.param(lambda t: t.run_tool_bench_test("quick", concurrency=4), id="tool_bench"),
    ],
)
async def test_malformed_replies_are_failed_records_and_the_run_finishes(
    hostile: HostileServer, run: Run, tmp_path: Path
) -> None:
    tester = StressTester({"url": hostile.url}, "m", max_tokens=8, out_dir=tmp_path, timeout_s=10)
    stats = await run(tester)
    records = [r for chunk in iter_records(stats.records_path) for r in chunk]
    assert len(records) == hostile.chats  # records written == requests sent
    failed = [r for r in records if not r["ok"]]
    # Every 4th reply was hostile; which of them the client refuses is the client's business.
    assert 0 < len(failed) <= (hostile.chats + 1) // 4
    assert {r["error_class"] for r in failed} <= {"protocol", "internal"}
    assert all(r["error"] for r in failed)
    assert stats.failed == sum(not r["warmup"] for r in failed)
    assert stats.success == sum(r["ok"] and not r["warmup"] for r in records)
    assert (tmp_path / f"{stats.records_path.stem}.md").exists()
