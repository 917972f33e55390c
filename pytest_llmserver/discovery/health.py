"""Is a known server still there: health checks of one record and of the cached ones."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from pytest_llmserver.client import LLMError, ServerRecord
from pytest_llmserver.discovery.fingerprint import fingerprint, identify_within, json_client
from pytest_llmserver.discovery.progress import AnyProgressCallback, ScanProgress, reporter


async def check_server_health(
    server: ServerRecord | Mapping[str, Any],
    *,
    client: httpx.AsyncClient | None = None,
    api_key: str | None = None,
    timeout_s: float = 3.0,
) -> ServerRecord | None:
    """Re-fingerprint a known server (a record, or the seed's dict) through its own API type:
    a fresh record (models refreshed), or ``None`` if it is gone or no longer answers that API."""
    record = ServerRecord.coerce(server)
    if client is None:
        async with json_client(api_key, timeout_s) as own:
            return await check_server_health(record, client=own, timeout_s=timeout_s)
    try:
        return await identify_within(
            fingerprint(client, record.url, api=record.type), record.url, timeout_s
        )
    except LLMError:
        return None


async def quick_validate_cache(
    servers: Sequence[ServerRecord | Mapping[str, Any]],
    progress_callback: AnyProgressCallback | None = None,
    *,
    api_key: str | None = None,
    timeout_s: float = 3.0,
) -> list[ServerRecord]:
    """Health-check cached servers at once; the live ones, refreshed, in the given order.

    ``progress_callback`` is told each finished check, in either form (``progress`` module).
    """
    report = reporter(progress_callback)
    done = 0

    async def check(server: ServerRecord | Mapping[str, Any]) -> ServerRecord | None:
        nonlocal done
        fresh = await check_server_health(server, client=http, timeout_s=timeout_s)
        done += 1
        await report(ScanProgress("cache", "health", done, len(servers)))
        return fresh

    async with json_client(api_key, timeout_s) as http:
        checked = await asyncio.gather(*(check(s) for s in servers))
    return [s for s in checked if s is not None]
