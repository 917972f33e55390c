"""``server_slots``: a llama.cpp server's parallel slots, asked of loopback servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery import probe_url, server_slots
from tests.discovery.servers import sim_server


async def test_llamacpp_props_total_slots() -> None:
    async with sim_server("127.0.0.3", "llamacpp", slots=2) as sim:
        record = await probe_url(sim.url)
        assert record.kind == "llamacpp"
        assert await server_slots(record) == 2


async def test_no_slots_where_nobody_says() -> None:
    async with sim_server("127.0.0.3", "openai") as sim:
        assert await server_slots(await probe_url(sim.url)) is None
    async with sim_server("127.0.0.3", "ollama") as sim:
        assert await server_slots(ServerRecord(sim.url, type="ollama")) is None
    assert await server_slots(ServerRecord(sim.url), timeout_s=1.0) is None  # gone


@asynccontextmanager
async def json_routes(routes: dict[str, object]) -> AsyncIterator[str]:
    """A loopback server answering ``GET path`` with the JSON of ``routes[path]`` (else 404)."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ")[1].decode()
        found = path in routes
        body = json.dumps(routes[path] if found else {"error": "not found"}).encode()
        status = b"200 OK" if found else b"404 Not Found"
        writer.write(
            b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_slots_listing_when_props_do_not_say() -> None:
    async with json_routes({"/props": {"build_info": "x"}, "/slots": [{"id": 0}] * 3}) as url:
        assert await server_slots(ServerRecord(url)) == 3


async def test_implausible_counts_are_ignored() -> None:
    routes: dict[str, object] = {"/props": {"total_slots": True}, "/slots": {"id": 0}}
    async with json_routes(routes) as url:
        assert await server_slots(ServerRecord(url)) is None
    async with json_routes({"/props": {"total_slots": 0}, "/slots": []}) as url:
        assert await server_slots(ServerRecord(url)) is None
