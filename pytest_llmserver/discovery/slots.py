"""How many requests a server decodes at once, where it says: llama.cpp's parallel slots."""

from __future__ import annotations

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery.fingerprint import check_endpoint, json_client

MAX_SLOTS = 1024
"""A slot count above this is no plausible answer and is ignored."""


async def server_slots(
    server: ServerRecord, *, api_key: str | None = None, timeout_s: float = 5.0
) -> int | None:
    """The server's parallel slots: ``total_slots`` of llama.cpp's ``/props``, else the length
    of its ``/slots`` list; ``None`` when neither says (an Ollama server is not asked).

    One or two small requests, each within ``timeout_s``; never raises for what a server
    answers or fails to answer.
    """
    if server.type == "ollama":
        return None
    async with json_client(api_key, timeout_s) as http:
        props = await check_endpoint(http, server.root, "/props")
        total = props.get("total_slots") if isinstance(props, dict) else None
        if isinstance(total, int) and not isinstance(total, bool) and 1 <= total <= MAX_SLOTS:
            return total
        listing = await check_endpoint(http, server.root, "/slots")
        if isinstance(listing, list) and 1 <= len(listing) <= MAX_SLOTS:
            return len(listing)
    return None
