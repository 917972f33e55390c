"""Servers for discovery tests, all on loopback: sims by persona, junk TCP servers, options."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from pytest_llmserver.discovery import (
    DiscoveryOptions,
    InterfaceAddress,
)
from pytest_llmserver.sim import SimConfig, SimServer
from pytest_llmserver.sim.persona import Persona


def iface(address: str, netmask: str, name: str = "eth0", up: bool = True) -> InterfaceAddress:
    return InterfaceAddress(name, address, netmask, up)


def sim_server(host: str, persona: Persona = "sim", **changes: object) -> SimServer:
    return SimServer(SimConfig(host=host, persona=persona, **changes))  # type: ignore[arg-type]


Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def html_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    body = b"<html><body>router admin</body></html>"
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
    )
    await writer.drain()


async def odd_json_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for _ in range(20):
        await reader.readuntil(b"\r\n\r\n")
        body = json.dumps({"data": "not a list", "version": 3}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


@asynccontextmanager
async def junk_server(host: str, reply: Reply) -> AsyncIterator[int]:
    """A TCP server on ``host`` that is no LLM API; yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reply(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


def scan_options(tmp_path: Path, ports: tuple[int, ...], **changes: object) -> DiscoveryOptions:
    options = DiscoveryOptions(
        subnets=("127.0.0.0/28",),
        ports=ports,
        cache_path=tmp_path / "servers.json",
        loopback_only=True,
        http_timeout_s=0.5,
    )
    return replace(options, **changes)  # type: ignore[arg-type]
