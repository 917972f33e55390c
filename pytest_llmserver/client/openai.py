"""OpenAI-compatible chat completions: the ``OPENAI`` protocol object and its SSE decoder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pytest_llmserver.client._api import (
    ChatRequest,
    event_object,
    merge_extra,
    protocol_error,
    server_event_error,
)
from pytest_llmserver.client._checks import (
    ShapeError,
    bad,
    duration_ms,
    need_dict,
    need_list,
    opt_dict,
    opt_str,
    rate,
    token_count,
)
from pytest_llmserver.client.errors import LLMProtocolError
from pytest_llmserver.client.limits import MAX_LINE_BYTES

if TYPE_CHECKING:
    from pytest_llmserver.client.metrics import ServerCounts
    from pytest_llmserver.client.response import ResponseBuilder, ToolCall
    from pytest_llmserver.client.server import ServerRecord

CHAT_PATH = "/chat/completions"
_TEXT = (str, type(None))


def apply_usage(counts: ServerCounts, usage: dict[str, Any]) -> None:
    """Take token counts from an OpenAI ``usage`` object."""
    suspect = counts.suspect
    prompt = token_count(usage, "prompt_tokens", "usage.", suspect)
    if prompt is not None:
        counts.prompt_tokens, counts.prompt_source = prompt, "usage"
    output = token_count(usage, "completion_tokens", "usage.", suspect)
    if output is not None:
        counts.output_tokens, counts.output_source = output, "usage"
    details = opt_dict(usage, "prompt_tokens_details", "usage.")
    if details is not None:
        cached = token_count(details, "cached_tokens", "usage.prompt_tokens_details.", suspect)
        counts.cached_tokens = cached if cached is not None else counts.cached_tokens
    details = opt_dict(usage, "completion_tokens_details", "usage.")
    if details is not None:
        where = "usage.completion_tokens_details."
        reasoning = token_count(details, "reasoning_tokens", where, suspect)
        counts.reasoning_tokens = reasoning if reasoning is not None else counts.reasoning_tokens


def apply_timings(counts: ServerCounts, timings: dict[str, Any]) -> None:
    """Take server-side prefill/decode figures from a llama.cpp ``timings`` object."""
    suspect = counts.suspect
    prompt_ns = duration_ms(timings, "prompt_ms", "timings.", suspect)
    if prompt_ns is not None:
        counts.prompt_eval_duration_ns = prompt_ns
    decode_ns = duration_ms(timings, "predicted_ms", "timings.", suspect)
    if decode_ns is not None:
        counts.eval_duration_ns = decode_ns
    prefill = rate(timings, "prompt_per_second", "timings.", suspect)
    if prefill is not None:
        counts.prefill_tps = prefill
    decode = rate(timings, "predicted_per_second", "timings.", suspect)
    if decode is not None:
        counts.decode_tps = decode
    cache_n = token_count(timings, "cache_n", "timings.", suspect)
    if cache_n is not None and counts.cached_tokens is None:
        counts.cached_tokens = cache_n
    # Counts from timings only where usage gave none (usage is applied later and wins).
    predicted_n = token_count(timings, "predicted_n", "timings.", suspect)
    if counts.output_tokens is None and predicted_n is not None:
        counts.output_tokens, counts.output_source = predicted_n, "server"
    prompt_n = token_count(timings, "prompt_n", "timings.", suspect)
    if counts.prompt_tokens is None and prompt_n is not None:
        counts.prompt_tokens = prompt_n + (cache_n or 0)
        counts.prompt_source = "server"


def apply_counts(counts: ServerCounts, obj: dict[str, Any]) -> None:
    """Take a chunk's or reply's ``timings``, then its ``usage`` (whose counts win)."""
    timings = obj.get("timings")
    if timings is not None:
        apply_timings(counts, need_dict(timings, "timings"))
    usage = obj.get("usage")
    if usage is not None:
        apply_usage(counts, need_dict(usage, "usage"))


def texts(part: dict[str, Any], where: str) -> tuple[str, str]:
    """(content, reasoning) of a delta or message; ``reasoning_content`` or ``reasoning``."""
    content = part.get("content")
    if content is not None and type(content) is not str:
        raise bad(f"{where}content", content, "a string")
    reasoning = part.get("reasoning_content")
    if reasoning is not None and type(reasoning) is not str:
        raise bad(f"{where}reasoning_content", reasoning, "a string")
    if not reasoning:
        reasoning = part.get("reasoning")
        if reasoning is not None and type(reasoning) is not str:
            raise bad(f"{where}reasoning", reasoning, "a string")
    return content or "", reasoning or ""


def first_choice(choices: object) -> dict[str, Any] | None:
    """``choices[0]`` (every choice an object), ``None`` when there is none."""
    if choices is None:
        return None
    if type(choices) is not list:
        raise bad("choices", choices, "an array")
    for i, choice in enumerate(choices):
        if type(choice) is not dict:
            raise bad(f"choices[{i}]", choice, "an object")
    return choices[0] if choices else None


class SSEDecoder:
    """Decodes one ``text/event-stream`` reply line by line into a ``ResponseBuilder``.

    Lines come without their terminator (CR, LF or CRLF, all three accepted). One event's
    data is at most ``MAX_LINE_BYTES``.
    """

    __slots__ = ("_builder", "_data", "_data_len", "_data_t_ns", "_url", "done")

    def __init__(self, builder: ResponseBuilder, url: str) -> None:
        self._builder = builder
        self._url = url
        self._data: list[bytes] = []
        self._data_len = 0
        self._data_t_ns = 0
        self.done = False

    def feed_line(self, line: bytes, t_ns: int) -> str:
        """Consume one line (without its newline); return answer text it completed."""
        if line.startswith(b"data:"):
            if not self._data:
                self._data_t_ns = t_ns
                self._data_len = 0
            self._data_len += len(line)
            if self._data_len > MAX_LINE_BYTES:
                raise LLMProtocolError(
                    f"event in the stream from {self._url} is longer than {MAX_LINE_BYTES} bytes",
                    url=self._url,
                )
            self._data.append(line[5:].strip())
            return ""
        if line.strip(b"\r") or not self._data:
            return ""  # comments (": ping"), event:/id:/retry: fields, stray blank lines
        payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        return self.dispatch(payload, self._data_t_ns)

    def end(self, t_ns: int) -> str:
        """Dispatch an event left open when the body ended without a blank line."""
        if not self._data:
            return ""
        payload, self._data = b"\n".join(self._data), []
        return self.dispatch(payload, t_ns)

    def dispatch(self, payload: bytes, t_ns: int) -> str:
        """Handle one event's data."""
        builder = self._builder
        if payload == b"[DONE]":
            builder.clock.event(t_ns)
            self.done = True
            return ""
        try:
            obj = event_object(payload)
            builder.clock.event(t_ns)
            if obj.get("error") is not None:
                raise server_event_error(obj, "error event in the stream", self._url)
            out = ""
            choices = obj.get("choices")
            if type(choices) is list and len(choices) == 1 and type(choices[0]) is dict:
                out = self._choice(choices[0], t_ns)
            elif choices is not None:
                choice = first_choice(choices)
                if choice is not None:
                    out = self._choice(choice, t_ns)
            if "timings" in obj or "usage" in obj:
                apply_counts(builder.counts, obj)
            return out
        except ShapeError as exc:
            raise protocol_error(exc, "event in the stream", self._url, payload) from None

    def _choice(self, choice: dict[str, Any], t_ns: int) -> str:
        builder = self._builder
        out = ""
        delta = choice.get("delta")
        if delta is not None:
            if type(delta) is not dict:
                raise bad("choices[0].delta", delta, "an object")
            content = delta.get("content")
            reasoning = delta.get("reasoning_content")
            if type(content) not in _TEXT or type(reasoning) not in _TEXT:
                texts(delta, "choices[0].delta.")  # names the wrong field
            reasoning = reasoning or delta.get("reasoning")
            if type(reasoning) not in _TEXT:
                texts(delta, "choices[0].delta.")
            tool_calls = delta.get("tool_calls")
            if tool_calls is not None:
                self._tool_deltas(tool_calls, t_ns)
            if content or reasoning:
                out = builder.text(t_ns, reasoning or "", content or "")
        finish = choice.get("finish_reason")
        if finish is not None:
            if type(finish) is not str:
                raise bad("choices[0].finish_reason", finish, "a string")
            if finish:
                builder.finish_reason = finish
                builder.clock.finished(t_ns)
        return out

    def _tool_deltas(self, tool_calls: object, t_ns: int) -> None:
        where = "choices[0].delta.tool_calls"
        for i, raw in enumerate(need_list(tool_calls, where)):
            at = f"{where}[{i}]."
            call = need_dict(raw, at[:-1])
            index = call.get("index")
            if index is None:
                index = 0
            elif type(index) is not int or index < 0:
                raise bad(f"{at}index", index, "a non-negative integer")
            function = opt_dict(call, "function", at) or {}
            piece = function.get("arguments")
            if piece is None:
                piece = ""
            elif type(piece) is dict:
                piece = json.dumps(piece, ensure_ascii=False)
            elif type(piece) is not str:
                raise bad(f"{at}function.arguments", piece, "a string or an object")
            name = opt_str(function, "name", f"{at}function.") or ""
            self._builder.tool_delta(t_ns, index, opt_str(call, "id", at) or "", name, piece)


def decode_completion(raw: bytes, builder: ResponseBuilder, t_ns: int, url: str) -> None:
    """Fill ``builder`` from a non-streamed ``chat.completion`` reply."""
    try:
        obj = event_object(raw)
        if obj.get("error") is not None:
            raise server_event_error(obj, "error reply", url)
        choice = first_choice(need_list(obj.get("choices"), "choices"))
        if choice is None:
            raise ShapeError("choices is empty")
        builder.clock.event(t_ns)
        message = opt_dict(choice, "message", "choices[0].") or {}
        content, reasoning = texts(message, "choices[0].message.")
        builder.text(t_ns, reasoning, content)
        builder.whole_tool_calls(t_ns, message.get("tool_calls"), "choices[0].message.tool_calls")
        builder.finish_reason = opt_str(choice, "finish_reason", "choices[0].")
        apply_counts(builder.counts, obj)
    except ShapeError as exc:
        raise protocol_error(exc, "reply", url, raw) from None


class OpenAIChat:
    """OpenAI-compatible ``/v1/chat/completions``, streamed as server-sent events."""

    name = "openai"

    def chat_url(self, server: ServerRecord) -> str:
        """``/v1/chat/completions`` under the server's OpenAI base."""
        return server.openai_base + CHAT_PATH

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """A ``/v1/chat/completions`` body."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "stream": request.stream,
        }
        if request.stream and request.include_usage:
            body["stream_options"] = {"include_usage": True}
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.tools:
            body["tools"] = request.tools
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if request.enable_thinking is not None:
            # Read by the chat templates of reasoning models on llama.cpp, vLLM and SGLang.
            body["chat_template_kwargs"] = {"enable_thinking": request.enable_thinking}
        return merge_extra(body, request.extra)

    def decoder(self, builder: ResponseBuilder, url: str, content_type: str) -> SSEDecoder:
        """An SSE decoder; the reply must be ``text/event-stream`` (or say no type)."""
        if content_type not in ("text/event-stream", ""):
            raise LLMProtocolError(
                f"{url} answered with {content_type}, not text/event-stream", url=url
            )
        return SSEDecoder(builder, url)

    def decode_whole(self, raw: bytes, builder: ResponseBuilder, t_ns: int, url: str) -> None:
        """Fill ``builder`` from a ``chat.completion`` reply."""
        decode_completion(raw, builder, t_ns, url)

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        """A tool result that answers the call by its id (``tool_call_id``)."""
        return {"role": "tool", "tool_call_id": call.id, "content": content}

    def assistant_message(self, content: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
        """The reply with its calls, arguments as the JSON text the model wrote."""
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_raw or "{}"},
                }
                for c in calls
            ]
        return message


OPENAI = OpenAIChat()
"""The OpenAI-compatible protocol (any server type but ``ollama``)."""
