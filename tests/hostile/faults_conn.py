"""Faults in what happens to a connection after a healthy reply: the server closes it when the
next request arrives, without reading that request. The reply itself is healthy (``ok``); the
next request on the connection is the one that meets the close (``test_keepalive``)."""

from __future__ import annotations

import asyncio
import select
import socket

from tests.hostile.context import Context, Fault

WAIT_S = 5.0


async def _next_request_arrives(ctx: Context) -> None:
    """Stop reading, then wait until the next request's bytes sit unread in the socket."""
    sock = ctx.writer.get_extra_info("socket")
    loop = asyncio.get_running_loop()
    until = loop.time() + WAIT_S
    while loop.time() < until:
        readable, _, _ = select.select([sock.fileno()], [], [], 0)
        if readable:
            return
        await asyncio.sleep(0.002)


async def _healthy_then_paused(ctx: Context) -> None:
    ctx.writer.transport.pause_reading()  # type: ignore[attr-defined]
    await ctx.healthy()
    await _next_request_arrives(ctx)


async def close_when_next_arrives(ctx: Context) -> bool:
    """llama.cpp's way: FIN (shutdown), then close with the next request unread (RST)."""
    await _healthy_then_paused(ctx)
    ctx.writer.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
    return False


async def reset_when_next_arrives(ctx: Context) -> bool:
    """Go's way: close with the next request unread, which the kernel turns into a RST."""
    await _healthy_then_paused(ctx)
    return False


CONNECTION_FAULTS: tuple[Fault, ...] = (
    Fault(
        "close_when_next_arrives",
        "a healthy reply; then FIN and RST when the next request arrives, unread",
        close_when_next_arrives,
        "ok",
        "ok",
    ),
    Fault(
        "reset_when_next_arrives",
        "a healthy reply; then RST when the next request arrives, unread",
        reset_when_next_arrives,
        "ok",
        "ok",
    ),
)
