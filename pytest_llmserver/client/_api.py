"""What every chat protocol object offers (``ChatApi``), and the decoding steps they share."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pytest_llmserver.client.errors import LLMProtocolError, LLMServerEventError

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
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    enable_thinking: bool | None = None
    extra: dict[str, Any] | None = None


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
    """The human message of an ``{"error": ...}`` object (OpenAI, vLLM, llama.cpp, Ollama)."""
    err = obj.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or json.dumps(err))
    if err is not None:
        return str(err)
    return str(obj.get("message") or obj.get("detail") or json.dumps(obj)[:300])


def server_message(body: bytes) -> str:
    """The message of an error reply's body, JSON or not."""
    try:
        obj = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return text[:300] or "(empty body)"
    return error_message(obj) if isinstance(obj, dict) else str(obj)[:300]


def stream_object(
    data: bytes, t_ns: int, builder: ResponseBuilder, url: str, *, unit: str, error_unit: str
) -> dict[str, Any]:
    """One streamed ``unit`` (event, line) as a JSON object, stamped as a response event.

    ``LLMProtocolError`` if it is no JSON object; ``LLMServerEventError`` (naming it
    ``error_unit``) if the server put an error in it.
    """
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise LLMProtocolError(
            f"malformed {unit} in the stream from {url}: {exc}: {data[:120]!r}", url=url
        ) from exc
    if not isinstance(obj, dict):
        raise LLMProtocolError(
            f"{unit} in the stream from {url} is not a JSON object: {data[:120]!r}", url=url
        )
    builder.clock.event(t_ns)
    if "error" in obj:
        raise LLMServerEventError(
            f"{error_unit} in the stream from {url}: {error_message(obj)}", url=url
        )
    return obj
