"""The Ollama native side: version, tags, show and chat (NDJSON and whole)."""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import datetime, timezone
from typing import Any

from pytest_llmserver.sim.generation import GenerationStats, Piece, Plan, WholeReply
from pytest_llmserver.sim.http import ResponseWriter
from pytest_llmserver.sim.policy import is_reasoning_model

VERSION = "0.12.0-sim"
SERVER_ERROR_MESSAGE = "simulated server error"


def _details() -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "sim",
        "families": ["sim"],
        "parameter_size": "135M",
        "quantization_level": "Q4_1",
    }


def timestamp(moment: datetime | None = None) -> str:
    """An RFC 3339 UTC time stamp such as Ollama's ``created_at``."""
    value = moment if moment is not None else datetime.now(timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(model: str) -> str:
    """A stable 64-hex digest for a model name."""
    return hashlib.sha256(f"pytest-llmserver-sim:{model}".encode()).hexdigest()


def capabilities(model: str) -> list[str]:
    """What ``/api/show`` reports the model can do."""
    caps = ["completion", "tools"]
    if is_reasoning_model(model):
        caps.append("thinking")
    return caps


def tags_body(models: tuple[str, ...], modified: datetime) -> dict[str, Any]:
    """The body of ``GET /api/tags``."""
    entries = [
        {
            "name": m,
            "model": m,
            "modified_at": timestamp(modified),
            "size": 100_000_000 + zlib.crc32(m.encode()) % 10_000_000,
            "digest": digest(m),
            "details": _details(),
        }
        for m in models
    ]
    return {"models": entries}


def show_body(model: str, modified: datetime) -> dict[str, Any]:
    """The body of ``POST /api/show``."""
    return {
        "modelfile": f"# Modelfile of the simulated model {model}\nFROM {model}\n",
        "parameters": "temperature 0\nnum_ctx 8192",
        "template": "{{ .Prompt }}",
        "details": _details(),
        "model_info": {
            "general.architecture": "sim",
            "general.basename": model,
            "general.parameter_count": 135_000_000,
            "sim.context_length": 8192,
            "sim.embedding_length": 576,
        },
        "capabilities": capabilities(model),
        "modified_at": timestamp(modified),
    }


def _call_json(call_name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    return {"function": {"name": call_name, "arguments": arguments}}


class _OllamaBase:
    def __init__(self, response: ResponseWriter, plan: Plan, model: str, send_usage: bool) -> None:
        self.response = response
        self.plan = plan
        self.model = model
        self.send_usage = send_usage
        self._last_tool_index = plan.last_tool_index

    def _final_fields(self, stats: GenerationStats) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "done": True,
            "done_reason": "length" if stats.truncated else "stop",
        }
        if self.send_usage:
            fields.update(
                total_duration=stats.total_ns,
                load_duration=stats.load_ns,
                prompt_eval_count=stats.prompt_tokens,
                prompt_eval_duration=stats.prefill_ns,
                eval_count=stats.completion_tokens,
                eval_duration=stats.decode_ns,
            )
        return fields

    def _complete_calls(self) -> list[dict[str, Any]]:
        return [
            _call_json(call.name, call.arguments)
            for call, _text, complete in self.plan.generated_calls()
            if complete
        ]


class OllamaStreamEmitter(_OllamaBase):
    """Writes a chat reply as NDJSON lines, one per token; tool calls whole in one line."""

    def _line(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"model": self.model, "created_at": timestamp(), "message": message, "done": False}

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.response.write_chunk(json.dumps(payload).encode() + b"\n")

    async def begin(self) -> None:
        """Choose the content type; the head goes out with the first line."""
        self.response.prepare_chunked(200, "application/x-ndjson")

    async def token(self, index: int, piece: Piece) -> None:
        """Send a thinking or content line; tool calls go out with their last token."""
        message: dict[str, Any]
        if piece.kind == "reasoning":
            message = {"role": "assistant", "content": "", "thinking": piece.text}
            await self._send(self._line(message))
        elif piece.kind == "content":
            await self._send(self._line({"role": "assistant", "content": piece.text}))
        elif index == self._last_tool_index:
            calls = self._complete_calls()
            if calls:
                message = {"role": "assistant", "content": "", "tool_calls": calls}
                await self._send(self._line(message))

    async def malformed(self) -> None:
        """Send a line cut off in the middle of its JSON."""
        text = json.dumps(self._line({"role": "assistant", "content": "broken"}))
        await self.response.write_chunk(text[: len(text) // 2].encode() + b"\n")

    async def error_event(self) -> None:
        """Send an ``{"error": ...}`` line and end the stream."""
        await self._send({"error": SERVER_ERROR_MESSAGE})
        await self.response.end_chunked()

    async def finish(self, stats: GenerationStats) -> None:
        """Send the final ``done: true`` line."""
        final: dict[str, Any] = {
            "model": self.model,
            "created_at": timestamp(),
            "message": {"role": "assistant", "content": ""},
        }
        final.update(self._final_fields(stats))
        await self._send(final)
        await self.response.end_chunked()


class OllamaWholeEmitter(WholeReply, _OllamaBase):
    """Writes a chat reply as one JSON object after the whole generation."""

    async def error_event(self) -> None:
        """Answer 500 with an Ollama error body."""
        await self.response.send_json(500, {"error": SERVER_ERROR_MESSAGE})

    async def finish(self, stats: GenerationStats) -> None:
        """Send the whole reply."""
        message: dict[str, Any] = {"role": "assistant", "content": self.plan.text_of("content")}
        thinking = self.plan.text_of("reasoning")
        if thinking:
            message["thinking"] = thinking
        calls = self._complete_calls()
        if calls:
            message["tool_calls"] = calls
        body: dict[str, Any] = {"model": self.model, "created_at": timestamp(), "message": message}
        body.update(self._final_fields(stats))
        data = json.dumps(body).encode()
        if self.broken:
            data = data[: len(data) // 2]
        await self.response.send(200, "application/json", data)
