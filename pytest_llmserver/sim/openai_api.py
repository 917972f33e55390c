"""The OpenAI-compatible side: model listing and chat completions (SSE and whole)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pytest_llmserver.sim.generation import GenerationStats, Piece, Plan, WholeReply
from pytest_llmserver.sim.http import ResponseWriter

OWNER = "pytest-llmserver-sim"
SERVER_ERROR_MESSAGE = "simulated server error"
THINK_OPEN_PARTS = ("<thi", "nk>")
THINK_CLOSE_PARTS = ("</th", "ink>")


def error_body(
    message: str, error_type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def models_body(
    models: tuple[str, ...], created: int, owner: str = OWNER, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body of ``GET /v1/models``; ``extra`` fields go on every entry."""
    data = [
        {"id": m, "object": "model", "created": created, "owned_by": owner, **(extra or {})}
        for m in models
    ]
    return {"object": "list", "data": data}


def finish_reason(stats: GenerationStats) -> str:
    """``length`` when cut by the token limit, ``tool_calls`` after tool calls, else ``stop``."""
    if stats.truncated:
        return "length"
    return "tool_calls" if stats.has_tool_calls else "stop"


def usage_body(stats: GenerationStats) -> dict[str, Any]:
    """The ``usage`` object."""
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_tokens": stats.prompt_tokens + stats.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": stats.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": stats.reasoning_tokens},
    }


def _rate(count: int, ms: float) -> float:
    return 1000.0 * count / ms if ms > 0 else 0.0


def timings_body(stats: GenerationStats) -> dict[str, Any]:
    """A llama.cpp-style ``timings`` object from the measured prefill and decode times;
    ``prompt_n`` counts the prompt tokens computed, ``cache_n`` those taken from the cache."""
    prompt_ms = stats.prefill_ns / 1e6
    predicted_ms = stats.decode_ns / 1e6
    prompt_n = stats.prompt_tokens - stats.cached_tokens
    predicted_n = stats.completion_tokens
    # The decode time spans the gaps between first and last token, and llama.cpp's own
    # replies divide by that many gaps: predicted_per_second = (predicted_n - 1) / time.
    gaps = max(predicted_n - 1, 0)
    return {
        "prompt_n": prompt_n,
        "prompt_ms": prompt_ms,
        "prompt_per_token_ms": prompt_ms / prompt_n if prompt_n else 0.0,
        "prompt_per_second": _rate(prompt_n, prompt_ms),
        "predicted_n": predicted_n,
        "predicted_ms": predicted_ms,
        "predicted_per_token_ms": predicted_ms / gaps if gaps else 0.0,
        "predicted_per_second": _rate(gaps, predicted_ms),
        "cache_n": stats.cached_tokens,
    }


class _OpenAIBase:
    def __init__(
        self,
        response: ResponseWriter,
        plan: Plan,
        model: str,
        completion_id: str,
        created: int,
        reasoning_style: Literal["field", "inline"],
        send_usage: bool,
        include_usage: bool = False,
    ) -> None:
        self.response = response
        self.plan = plan
        self.model = model
        self.completion_id = completion_id
        self.created = created
        self.reasoning_style = reasoning_style
        self.send_usage = send_usage
        self.include_usage = include_usage


class OpenAIStreamEmitter(_OpenAIBase):
    """Writes a chat completion as SSE ``chat.completion.chunk`` events, one token per event."""

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    async def _event(self, payload: dict[str, Any]) -> None:
        await self.response.write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    async def begin(self) -> None:
        """Send the head and the role-only chunk at once."""
        self.response.prepare_chunked(200, "text/event-stream")
        await self._event(self._chunk({"role": "assistant", "content": None}))

    async def token(self, index: int, piece: Piece) -> None:
        """Send one token's chunk (inline reasoning also sends the split think tags)."""
        if piece.kind == "reasoning" and self.reasoning_style == "inline":
            if index == 0:
                for part in THINK_OPEN_PARTS:
                    await self._event(self._chunk({"content": part}))
            await self._event(self._chunk({"content": piece.text}))
            if index == self.plan.reasoning_tokens - 1 and self.plan.reasoning_complete:
                for part in THINK_CLOSE_PARTS:
                    await self._event(self._chunk({"content": part}))
        elif piece.kind == "reasoning":
            await self._event(self._chunk({"reasoning_content": piece.text}))
        elif piece.kind == "content":
            await self._event(self._chunk({"content": piece.text}))
        elif piece.kind == "tool_header":
            call = self.plan.calls[piece.call_index]
            head: dict[str, Any] = {
                "index": call.index,
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            await self._event(self._chunk({"tool_calls": [head]}))
        else:
            piece_delta: dict[str, Any] = {
                "index": piece.call_index,
                "function": {"arguments": piece.text},
            }
            await self._event(self._chunk({"tool_calls": [piece_delta]}))

    async def malformed(self) -> None:
        """Send a chunk event cut off in the middle of its JSON."""
        text = json.dumps(self._chunk({"content": "broken"}))
        await self.response.write_chunk(f"data: {text[: len(text) // 2]}\n\n".encode())

    async def error_event(self) -> None:
        """Send an error event and end the stream without ``[DONE]``."""
        await self._event(error_body(SERVER_ERROR_MESSAGE, "server_error"))
        await self.response.end_chunked()

    async def finish(self, stats: GenerationStats) -> None:
        """Send the finish chunk, the usage chunk if asked, and ``[DONE]``."""
        final = self._chunk({}, finish_reason(stats))
        if self.send_usage and not self.include_usage:
            final["timings"] = timings_body(stats)
        await self._event(final)
        if self.send_usage and self.include_usage:
            usage_chunk = self._chunk({})
            usage_chunk["choices"] = []
            usage_chunk["usage"] = usage_body(stats)
            usage_chunk["timings"] = timings_body(stats)
            await self._event(usage_chunk)
        await self.response.write_chunk(b"data: [DONE]\n\n")
        await self.response.end_chunked()


class OpenAIWholeEmitter(WholeReply, _OpenAIBase):
    """Writes a chat completion as one ``chat.completion`` JSON after the whole generation."""

    async def error_event(self) -> None:
        """Answer 500 with an OpenAI error body."""
        await self.response.send_json(500, error_body(SERVER_ERROR_MESSAGE, "server_error"))

    def _message(self) -> dict[str, Any]:
        reasoning = self.plan.text_of("reasoning")
        content = self.plan.text_of("content")
        if reasoning and self.reasoning_style == "inline":
            close = "</think>" if self.plan.reasoning_complete else ""
            content = f"<think>{reasoning}{close}{content}"
            reasoning = ""
        calls = self.plan.generated_calls()
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content if (content or not calls) else None,
        }
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": text},
                }
                for call, text, _complete in calls
            ]
        return message

    async def finish(self, stats: GenerationStats) -> None:
        """Send the whole completion."""
        body: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": self._message(),
                    "logprobs": None,
                    "finish_reason": finish_reason(stats),
                }
            ],
        }
        if self.send_usage:
            body["usage"] = usage_body(stats)
            body["timings"] = timings_body(stats)
        data = json.dumps(body).encode()
        if self.broken:
            data = data[: len(data) // 2]
        await self.response.send(200, "application/json", data)
