"""How many streamed events per second the client parses on one core, over a real socket.

A tiny server in its own process, pinned to one core, answers every chat request with
recorded-shape events (llama.cpp SSE chunk objects, or Ollama NDJSON lines), each event one
HTTP chunk of a chunked body, ``--per-write`` chunks per socket write. The client runs in
another process pinned to the other core: ``ModelClient.complete`` (the full path: socket,
HTTP framing, line splitting, arrival stamps, JSON, validation, reasoning split, metrics),
next to a raw-asyncio reader (``asyncio.open_connection``, ``readuntil`` per chunk, minimal
chunk parsing, a clock read and ``json.loads`` per event) as the practical limit.
``--client-path`` runs the client from another checkout (repeat it to compare: before/after).

    python benchmarks/client_overhead.py [--events 20000] [--repeat 5]
        [--client-path /tmp/before-wire --client-path .]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TARGET_EVENTS_PER_S = 100_000
WORDS = ("the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".")
ROOT = Path(__file__).resolve().parent.parent
PER_WRITE = (1, 16)


def openai_events(n: int) -> list[bytes]:
    """``data:`` events shaped like llama.cpp's chunks (about 230 bytes each)."""
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


# The server (its own process) ---------------------------------------------------------------


def framed_writes(events: list[bytes], per_write: int) -> list[bytes]:
    """Each event one HTTP chunk, ``per_write`` chunks a write, the last chunk at the end."""
    chunks = [b"%x\r\n%s\r\n" % (len(e), e) for e in events]
    writes = [b"".join(chunks[i : i + per_write]) for i in range(0, len(chunks), per_write)]
    writes.append(b"0\r\n\r\n")
    return writes


async def serve(events: int) -> None:
    bodies = {
        (path, k): framed_writes(make(events), k)
        for path, make in (("/v1/chat/completions", openai_events), ("/api/chat", ollama_events))
        for k in PER_WRITE
    }
    kinds = {"/v1/chat/completions": b"text/event-stream", "/api/chat": b"application/x-ndjson"}

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                path = head[0].split(" ")[1]
                fields = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
                await reader.readexactly(int(fields.get("content-length", "0")))
                writes = bodies[(path, int(fields.get("x-per-write", "1")))]
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                    % kinds[path]
                )
                transport = writer.transport
                for data in writes:
                    writer.write(data)
                    if transport.get_write_buffer_size() > 65536:
                        await writer.drain()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


# The client (its own process, its own checkout) ---------------------------------------------


async def ours(url: str, api: str, per_write: int, expected: int, repeat: int) -> float:
    from pytest_llmserver.client import ModelClient

    best = 0.0
    headers = {"x-per-write": str(per_write)}
    async with ModelClient({"url": url, "type": api}, "m", headers=headers) as client:
        for _ in range(repeat):
            start = time.perf_counter_ns()
            response = await client.complete([{"role": "user", "content": "go"}])
            elapsed_s = (time.perf_counter_ns() - start) * 1e-9
            assert response.metrics.token_events == expected - (3 if api == "openai" else 1)
            best = max(best, expected / elapsed_s)
    return best


async def raw(port: int, api: str, per_write: int, expected: int, repeat: int) -> float:
    path = b"/v1/chat/completions" if api == "openai" else b"/api/chat"
    body = b'{"model": "m", "messages": [{"role": "user", "content": "go"}], "stream": true}'
    request = (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"x-per-write: %d\r\nContent-Length: %d\r\n\r\n%s" % (path, per_write, len(body), body)
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter_ns()
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        events = 0
        stamps = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            data = await reader.readexactly(size + 2)
            if not size:
                break
            stamps.append(time.perf_counter_ns())
            for line in data.split(b"\n"):
                if line.startswith(b"data: ") and line != b"data: [DONE]":
                    json.loads(line[6:])
                elif line and line[0] == 123:  # "{"
                    json.loads(line)
            events += 1
        elapsed_s = (time.perf_counter_ns() - start) * 1e-9
        assert events == expected, (events, expected)
        best = max(best, expected / elapsed_s)
    writer.close()
    return best


def measure(port: int, events: int, repeat: int) -> None:
    import pytest_llmserver

    print(json.dumps({"client": str(Path(pytest_llmserver.__file__).parent.parent)}), flush=True)
    url = f"http://127.0.0.1:{port}"
    for api, extra in (("openai", 3), ("ollama", 1)):
        for per_write in PER_WRITE:
            expected = events + extra
            client = asyncio.run(ours(url, api, per_write, expected, repeat))
            limit = asyncio.run(raw(port, api, per_write, expected, repeat))
            row = {"api": api, "per_write": per_write, "client": client, "raw": limit}
            print(json.dumps(row), flush=True)


# The driver -----------------------------------------------------------------------------------


def pinned(cpu: int) -> Any:
    def pin() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})

    return pin


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--client-path", action="append", default=[], help="a checkout to run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.events))
        return 0
    if args.measure:
        measure(args.measure, args.events, args.repeat)
        return 0
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    server_cpu, client_cpu = cpus[-1], cpus[0]
    me = [sys.executable, str(Path(__file__).resolve()), f"--events={args.events}"]
    server = subprocess.Popen(
        [*me, "--serve"], stdout=subprocess.PIPE, text=True, preexec_fn=pinned(server_cpu)
    )
    ok = True
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        print(
            f"python {sys.version.split()[0]}; server on cpu {server_cpu}, client on cpu "
            f"{client_cpu}; {args.events} events a request, each one HTTP chunk; best of "
            f"{args.repeat}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(
            f"{'client':<28} {'protocol':<8} {'events/write':>12} {'client ev/s':>12} "
            f"{'raw asyncio ev/s':>17} {'share':>6}  verdict"
        )
        for path in args.client_path or [str(ROOT)]:
            env = {**os.environ, "PYTHONPATH": str(Path(path).resolve())}
            child = subprocess.run(
                [*me, f"--repeat={args.repeat}", f"--measure={port}"],
                env=env,
                capture_output=True,
                text=True,
                preexec_fn=pinned(client_cpu),
                check=True,
            )
            lines = [json.loads(line) for line in child.stdout.splitlines()]
            label = lines[0]["client"][-28:]
            for row in lines[1:]:
                passed = row["client"] >= TARGET_EVENTS_PER_S
                ok &= passed or bool(args.client_path and path != args.client_path[-1])
                print(
                    f"{label:<28} {row['api']:<8} {row['per_write']:>12} {row['client']:>12,.0f} "
                    f"{row['raw']:>17,.0f} {row['client'] / row['raw']:>6.2f}  "
                    f"{'ok' if passed else 'MISSED'}"
                )
    finally:
        server.terminate()
        server.wait(10)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"target: >= {TARGET_EVENTS_PER_S:,} events/s on one core (the last client given)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
