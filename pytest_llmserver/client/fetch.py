"""Small JSON endpoints (model lists, versions, properties) read within bounds.

One request, one total time limit, at most ``MAX_ENDPOINT_BYTES`` of body, JSON nested at most
``MAX_NESTING_DEPTH`` deep. Discovery reads every answer through here, so a hostile endpoint
costs it a bounded time and memory and never an exception outside ``LLMError``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from pytest_llmserver._util import redact_url
from pytest_llmserver.client._api import clip
from pytest_llmserver.client._body import read_capped
from pytest_llmserver.client._checks import ShapeError, loads
from pytest_llmserver.client._transport import map_http_errors
from pytest_llmserver.client.errors import LLMError, LLMTimeoutError
from pytest_llmserver.client.limits import MAX_ENDPOINT_BYTES


@dataclass(frozen=True)
class JsonReply:
    """An endpoint's answer: status, content type, and the parsed body, or why there is none."""

    status: int
    content_type: str
    value: Any
    problem: str | None
    """Why the body is no usable JSON (not JSON, too large, too deep); ``value`` is then None."""
    text: str
    """The start of the body on one line, for messages."""


async def fetch_json(
    http: httpx.AsyncClient,
    url: str,
    *,
    method: str = "GET",
    payload: Any = None,
    timeout_s: float | None = None,
) -> JsonReply:
    """``method url`` (with JSON ``payload``) answered within ``timeout_s`` in all (default:
    the client's read timeout). Failing to get an answer is an ``LLMError`` (the timeout one
    with phase ``total``); an answer of any shape is a ``JsonReply``."""
    shown = redact_url(url)
    total_s = timeout_s if timeout_s is not None else (http.timeout.read or 10.0)

    async def exchange() -> tuple[httpx.Response, bytes, bool]:
        with map_http_errors(shown):
            request = http.build_request(
                method, url, json=payload, headers={"Accept-Encoding": "identity"}
            )
            response = await http.send(request, stream=True)
            try:
                body, more = await read_capped(response, MAX_ENDPOINT_BYTES, shown)
            finally:
                await response.aclose()
        return response, body, more

    try:
        response, body, more = await asyncio.wait_for(exchange(), total_s)
    except asyncio.TimeoutError:
        raise LLMTimeoutError(
            f"{shown} did not answer within {total_s:g} s", url=shown, phase="total"
        ) from None
    except LLMError:
        raise
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    text = clip(body[:1024].decode("utf-8", "replace"))
    if more:
        problem: str | None = f"a body larger than {MAX_ENDPOINT_BYTES} bytes"
        return JsonReply(response.status_code, kind, None, problem, text)
    try:
        value = loads(body)
    except ShapeError as exc:
        problem = str(exc) if str(exc).startswith("JSON nested") else f"not JSON ({exc})"
        return JsonReply(response.status_code, kind, None, problem, text)
    return JsonReply(response.status_code, kind, value, None, text)
