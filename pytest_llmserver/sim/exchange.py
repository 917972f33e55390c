"""One request being answered, the handler type that answers it, and its JSON body."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pytest_llmserver.sim.config import Fault
from pytest_llmserver.sim.errors import ApiError
from pytest_llmserver.sim.http import HttpRequest, ResponseWriter
from pytest_llmserver.sim.overrides import Overrides


@dataclass(frozen=True)
class Exchange:
    """One request being answered: what was read, where to answer, and its settings."""

    request: HttpRequest
    response: ResponseWriter
    overrides: Overrides
    fault: Fault
    sequence: int
    client_gone: Callable[[], Awaitable[object]] | None = None
    """Waits until the client has closed the connection (``None``: not known)."""


Handler = Callable[[Exchange], Awaitable[None]]


def parse_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body; anything else raises a 400."""
    try:
        body = json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body
