"""What every chat protocol object offers (``ChatApi``), and the decoding steps they share."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pytest_llmserver.client._checks import ShapeError, describe, loads
from pytest_llmserver.client.errors import LLMProtocolError, LLMServerEventError
from pytest_llmserver.client.limits import MAX_MESSAGE_CHARS

if TYPE_CHECKING:
    from pytest_llmserver.client.response import ResponseBuilder, ToolCall
    from pytest_llmserver.client.server import ServerRecord


@dataclass(frozen=True)
class ChatRequest:
    """One chat request, before a protocol encodes it as a body."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = True
    include_usage: bool = True
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    top_p: float | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    enable_thinking: bool | None = None
    extra: dict[str, Any] | None = None
    """Merged into the body by ``merge_extra``."""


CLIENT_KEYS = frozenset({"model", "messages", "stream"})
"""Body keys the client always decides; an extra body cannot replace them."""


def merge_extra(body: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """``body`` with ``extra`` merged in: an extra key replaces the body's, except that an
    object merges key by key into an object the body already has (Ollama's ``options``,
    ``chat_template_kwargs``), and ``CLIENT_KEYS`` keep the client's values."""
    for key, value in (extra or {}).items():
        if key in CLIENT_KEYS:
            continue
        mine = body.get(key)
        if isinstance(mine, dict) and isinstance(value, dict):
            body[key] = {**mine, **value}
        else:
            body[key] = dict(value) if isinstance(value, dict) else value  # the body's own
    return body


class StreamDecoder(Protocol):
    """Decodes one streamed reply, line by line, into a ``ResponseBuilder``."""

    done: bool
    """Whether the protocol's end marker arrived."""

    def feed_line(self, line: bytes, t_ns: int) -> str:
        """Consume one line (without its newline) that arrived at ``t_ns``; return answer text."""
        ...

    def end(self, t_ns: int) -> str:
        """The body ended: settle anything held; return answer text."""
        ...


class ChatApi(Protocol):
    """One chat protocol (OpenAI SSE, Ollama NDJSON): everything ``ModelClient`` asks of it."""

    name: str

    def chat_url(self, server: ServerRecord) -> str:
        """The chat endpoint of ``server``."""
        ...

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of ``request``."""
        ...

    def decoder(self, builder: ResponseBuilder, url: str, content_type: str) -> StreamDecoder:
        """A decoder for a streamed reply of ``content_type``; ``LLMProtocolError`` if wrong."""
        ...

    def decode_whole(self, raw: bytes, builder: ResponseBuilder, t_ns: int, url: str) -> None:
        """Fill ``builder`` from a non-streamed reply that arrived at ``t_ns``."""
        ...

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        """The message that answers ``call``."""
        ...

    def assistant_message(self, content: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
        """A reply with ``calls`` as a history message."""
        ...


def error_message(obj: dict[str, Any]) -> str:
    """The human message of an ``{"error": ...}`` object (OpenAI, vLLM, llama.cpp, Ollama),
    at most ``MAX_MESSAGE_CHARS`` long."""
    err = obj.get("error")
    if isinstance(err, dict):
        text = str(err.get("message") or err.get("type") or json.dumps(err))
    elif err is not None:
        text = str(err)
    else:
        text = str(obj.get("message") or obj.get("detail") or json.dumps(obj))
    return clip(text)


def clip(text: str) -> str:
    """``text`` on one line, at most ``MAX_MESSAGE_CHARS`` long."""
    text = " ".join(text.split())  # one line
    if len(text) > MAX_MESSAGE_CHARS:
        return text[: MAX_MESSAGE_CHARS - 1] + "\u2026"
    return text


def server_message(body: bytes) -> str:
    """The message of an error reply's body, JSON or not, on one line."""
    try:
        obj = loads(body)
    except ShapeError:
        return clip(body.decode("utf-8", "replace")) or "(empty body)"
    return error_message(obj) if isinstance(obj, dict) else clip(str(obj))


def event_object(data: bytes) -> dict[str, Any]:
    """One event, line or reply parsed as a JSON object within bounds (else ``ShapeError``)."""
    obj = loads(data)
    if type(obj) is not dict:
        raise ShapeError(f"it is {describe(obj)}, not a JSON object")
    return obj


def protocol_error(exc: ShapeError, what: str, url: str, data: bytes) -> LLMProtocolError:
    """The ``LLMProtocolError`` for ``what`` (an event, a line, a reply) from ``url``."""
    return LLMProtocolError(f"malformed {what} from {url}: {exc}: {data[:120]!r}", url=url)


def server_event_error(obj: dict[str, Any], what: str, url: str) -> LLMServerEventError:
    """The error a server reported inside an otherwise successful reply."""
    return LLMServerEventError(f"{what} from {url}: {error_message(obj)}", url=url)
