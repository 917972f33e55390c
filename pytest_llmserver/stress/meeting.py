"""One start for processes that share a run, on one clock: a small TCP service in the
controlling process, and the client each process meets it with.

A process first measures its wall clock's offset against the service's (``PINGS`` exchanges;
the one with the shortest round trip counts: its offset is within half that round trip),
then says it is ready and gets the common start once every part of its group is: the moment
the last one came, plus a lead, on the service's clock. It converts that to its own clock and
sleeps until then, so processes whose clocks disagree (other hosts) still start together, and
it reports the offset so their records can be put on the service's clock when merged.

Messages are JSON lines: ``{"op": "time"}`` -> ``{"wall_ns": ...}``; ``{"op": "ready",
"group", "part", "parts", "timeout_s"}`` -> ``{"start_ns": ...}``, or ``{"alone": <ready>}``
when not all parts came within ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import json
import socketserver
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest_llmserver.stress.timing as timing
from pytest_llmserver.stress.timing import NS

PINGS = 8
LEAD_S = 0.3
"""Time between the last process being ready and the common start."""


@dataclass(frozen=True)
class Meeting:
    """How one process met the others: the common start on its own clock (seconds since the
    epoch), its clock's offset from the service's (``own - service``, seconds) and the round
    trip that offset was measured over; ``note`` when it started alone."""

    start_s: float
    offset_s: float
    rtt_s: float
    note: str | None = None


class _Groups:
    """Who is ready in which group, and each group's start once all its parts are."""

    def __init__(self, lead_s: float) -> None:
        self.lead_s = lead_s
        self._changed = threading.Condition()
        self._ready: dict[str, set[int]] = {}
        self._starts: dict[str, int] = {}

    def wait(self, group: str, part: int, parts: int, timeout_s: float) -> dict[str, int]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            ready = self._ready.setdefault(group, set())
            ready.add(part)
            if len(ready) >= parts and group not in self._starts:
                self._starts[group] = timing.wall_ns() + int(self.lead_s * NS)
                self._changed.notify_all()
            while group not in self._starts:
                left = deadline - time.monotonic()
                if left <= 0:
                    return {"alone": len(ready)}
                self._changed.wait(left)
            return {"start_ns": self._starts[group]}


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        for line in self.rfile:
            message = json.loads(line)
            if message.get("op") == "time":
                reply: dict[str, int] = {"wall_ns": timing.wall_ns()}
            else:
                reply = self.server.groups.wait(
                    str(message["group"]),
                    int(message["part"]),
                    int(message["parts"]),
                    float(message["timeout_s"]),
                )
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    groups: _Groups


class MeetingService:
    """The service, run in threads of this process while in its ``with`` block; ``address``
    is what the other processes connect to (``host:port``)."""

    def __init__(self, host: str = "127.0.0.1", *, lead_s: float = LEAD_S) -> None:
        self._server = _Server((host, 0), _Handler)
        self._server.groups = _Groups(lead_s)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="llm-meeting", daemon=True
        )
        port = self._server.server_address[1]
        self.address = f"{host}:{port}"

    def __enter__(self) -> MeetingService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and free the port (again: nothing)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


async def _ask(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: dict[str, Any]
) -> dict[str, Any]:
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()
    line = await reader.readline()
    if not line:
        raise ConnectionError("the meeting service closed the connection")
    reply: dict[str, Any] = json.loads(line)
    return reply


async def meet(
    address: str, group: str, part: int, parts: int, *, timeout_s: float = 120.0
) -> Meeting:
    """Meet the other parts of ``group`` at the service at ``address``: measure this clock's
    offset, wait until all ``parts`` are ready (at most ``timeout_s``, then start alone with a
    note), then sleep until the common start. ``OSError`` when the service cannot be reached."""
    host, _, port = address.rpartition(":")
    ready = {"op": "ready", "group": group, "part": part, "parts": parts, "timeout_s": timeout_s}

    async def exchange() -> tuple[int, int, dict[str, Any]]:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            samples = []
            for _ in range(PINGS):
                sent_ns = timing.wall_ns()
                reply = await _ask(reader, writer, {"op": "time"})
                back_ns = timing.wall_ns()
                samples.append((back_ns - sent_ns, (sent_ns + back_ns) // 2 - reply["wall_ns"]))
            rtt_ns, offset_ns = min(samples)
            return rtt_ns, offset_ns, await _ask(reader, writer, ready)
        finally:
            writer.close()

    try:  # the service answers within timeout_s; more means it is gone
        rtt_ns, offset_ns, reply = await asyncio.wait_for(exchange(), timeout_s + 10.0)
    except asyncio.TimeoutError:
        raise ConnectionError(f"the meeting service at {address} did not answer") from None
    offset_s, rtt_s = offset_ns / NS, rtt_ns / NS
    if "start_ns" not in reply:
        note = (
            f"part {part + 1}/{parts} started alone: only {reply.get('alone')} of {parts} "
            f"parts were ready within {timeout_s:.0f} s"
        )
        return Meeting(timing.wall_ns() / NS, offset_s, rtt_s, note)
    start_s = (int(reply["start_ns"]) + offset_ns) / NS
    await asyncio.sleep(max(0.0, start_s - timing.wall_ns() / NS))
    return Meeting(start_s, offset_s, rtt_s)
