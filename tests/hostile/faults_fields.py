"""Faults in what the events say: wrong JSON types in each field the client reads, numbers
outside physical ranges, nesting, tool calls, error events. Each takes the healthy event list
of its protocol and changes one thing; discovery's routes stay healthy."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from pytest_llmserver.client import ChatResponse
from tests.hostile.context import Context, Fault
from tests.hostile.replies import ANSWER, Api, Event, healthy
from tests.hostile.wire import send_whole

Mutation = Callable[[list[Event]], list[Event]]


def _obj(events: list[Event], index: int) -> dict[str, Any]:
    event = events[index]
    assert isinstance(event, dict)
    return event


def edit(index: int, path: str, value: Any) -> Mutation:
    """Set the field at ``path`` (dot-separated; digits index arrays) of event ``index``."""

    def mutate(events: list[Event]) -> list[Event]:
        events = copy.deepcopy(events)
        target: Any = _obj(events, index)
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
        return events

    return mutate


def raw(index: int, path: str, literal: str) -> Mutation:
    """Like ``edit``, but the value is written as the raw JSON ``literal`` (NaN, 1e999...)."""

    def mutate(events: list[Event]) -> list[Event]:
        events = edit(index, path, "__RAW__")(events)
        text = json.dumps(events[index]).replace('"__RAW__"', literal)
        events[index] = text.encode()
        return events

    return mutate


def replace(index: int, event: Event) -> Mutation:
    """Event ``index`` replaced by ``event``."""
    return lambda events: [*events[:index], event, *events[index + 1 :]]


def insert(index: int, *new: Event) -> Mutation:
    """``new`` events inserted before event ``index``."""
    return lambda events: [*events[:index], *new, *events[index:]]


def drop(*indexes: int) -> Mutation:
    """The events at ``indexes`` left out (negative indexes count from the end)."""

    def mutate(events: list[Event]) -> list[Event]:
        gone = {i % len(events) for i in indexes}
        return [e for i, e in enumerate(events) if i not in gone]

    return mutate


def chain(*mutations: Mutation) -> Mutation:
    def mutate(events: list[Event]) -> list[Event]:
        for mutation in mutations:
            events = mutation(events)
        return events

    return mutate


def mutated(
    name: str,
    doc: str,
    openai: tuple[Mutation, str],
    ollama: tuple[Mutation, str],
    *,
    tools: bool = False,
    check: Callable[[ChatResponse], Any] | None = None,
    listing: bytes | None = None,
) -> Fault:
    """A fault that streams the healthy reply of its protocol, changed by a mutation; on
    discovery's routes it answers ``listing`` (a 200 JSON body) if given, else healthily."""
    mutations: dict[Api, Mutation] = {"openai": openai[0], "ollama": ollama[0]}

    async def play(ctx: Context) -> bool:
        if ctx.api is None:
            if listing is None:
                return await ctx.healthy()
            await send_whole(ctx.writer, 200, listing)
            return True
        return await ctx.stream(mutations[ctx.api](healthy(ctx.api, tools)))

    return Fault(name, doc, play, openai[1], ollama[1], check)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def deep_bytes(depth: int) -> bytes:
    """A JSON object holding arrays ``depth`` deep, built as text (no recursion here)."""
    return b'{"choices": [], "x": ' + b"[" * depth + b"1" + b"]" * depth + b"}"


def answer_is(text: str) -> Callable[[ChatResponse], None]:
    def check(response: ChatResponse) -> None:
        assert response.content == text, response.content

    return check


def suspects(*names: str) -> Callable[[ChatResponse], None]:
    def check(response: ChatResponse) -> None:
        m = response.metrics
        assert set(names) <= set(m.suspect), m.suspect
        assert 0 <= m.output_tokens <= 10**8
        assert m.prompt_tokens is None or 0 <= m.prompt_tokens <= 10**8
        for rate in (m.server_decode_tps, m.server_prefill_tps, m.decode_tps):
            assert rate is None or 0 <= rate <= 1e7
        for duration in (m.prompt_eval_duration_ns, m.eval_duration_ns):
            assert duration is None or duration >= 0

    return check


def two_calls(response: ChatResponse) -> None:
    assert [c.name for c in response.tool_calls] == ["calculator", "get_weather"]
    assert [c.arguments for c in response.tool_calls] == [{"expression": "2+2"}, {"city": "Oslo"}]


P, OK = "protocol", "ok"
D, L = 1, 0  # OpenAI's first content chunk, Ollama's first line
TOOL = "choices.0.delta.tool_calls.0"  # in OpenAI's tool reply, event 1
OTOOL = "message.tool_calls.0"  # in Ollama's tool reply, event 0


def _field(index: int, path: str, value: Any) -> Mutation:
    return edit(index, path, value)


def _delta(field: str, value: Any) -> Mutation:
    return edit(D, f"choices.0.delta.{field}", value)


def _message(field: str, value: Any) -> Mutation:
    return edit(L, f"message.{field}", value)


def _final(field: str, value: Any) -> Mutation:
    return edit(-1, field, value)


def _usage(field: str, value: Any) -> Mutation:
    return edit(4, f"usage.{field}", value)


def _timings(field: str, value: Any) -> Mutation:
    return edit(4, f"timings.{field}", value)


def _tools(
    name: str,
    doc: str,
    openai: Mutation,
    ollama: Mutation,
    outcomes: tuple[str, str] = (P, P),
    check: Callable[[ChatResponse], Any] | None = None,
) -> Fault:
    """A fault in the tool-call reply of each protocol."""
    return mutated(name, doc, (openai, outcomes[0]), (ollama, outcomes[1]), tools=True, check=check)


MANY_CALLS = [
    {"index": i, "id": f"c{i}", "function": {"name": "f", "arguments": "{}"}} for i in range(200)
]
HUGE_ARGUMENTS = json.dumps({"text": "x" * (2 * 1024 * 1024)})

FIELD_FAULTS: tuple[Fault, ...] = (
    mutated(
        "content_not_string",
        '"content": 5',
        (_delta("content", 5), P),
        (_message("content", 5), P),
    ),
    mutated(
        "reasoning_not_string",
        "reasoning_content / thinking is a number",
        (_delta("reasoning_content", 5), P),
        (_message("thinking", 5), P),
    ),
    mutated(
        "choices_not_array",
        "choices is an object / message is a string",
        (edit(D, "choices", {"0": {"delta": {"content": "x"}}}), P),
        (_field(L, "message", "Hello"), P),
        listing=json.dumps(
            {"object": "list", "data": {"0": 1}, "models": "x", "version": 5}
        ).encode(),
    ),
    mutated(
        "choice_not_object",
        "choices[0] is a string / message is an array",
        (edit(D, "choices", ["Hello"]), P),
        (_field(L, "message", ["Hello"]), P),
    ),
    mutated(
        "delta_not_object",
        "delta is a string / message is a number",
        (edit(D, "choices.0.delta", "Hello"), P),
        (_field(L, "message", 5), P),
    ),
    mutated(
        "finish_not_string",
        "finish_reason / done_reason is a number",
        (edit(3, "choices.0.finish_reason", 5), P),
        (_final("done_reason", 5), P),
    ),
    mutated(
        "done_not_boolean",
        '"done": "yes" (OpenAI does not read done)',
        (_field(D, "done", "yes"), OK),
        (_final("done", "yes"), P),
        check=answer_is(ANSWER),
    ),
    mutated(
        "usage_not_object",
        "usage is a string / prompt_eval_count is an object",
        (_field(4, "usage", "lots"), P),
        (_final("prompt_eval_count", {"n": 5}), P),
    ),
    mutated(
        "count_is_string",
        'completion_tokens / eval_count is "3"',
        (_usage("completion_tokens", "3"), P),
        (_final("eval_count", "3"), P),
    ),
    mutated(
        "count_is_float",
        "completion_tokens / eval_count is 3.0",
        (_usage("completion_tokens", 3.0), P),
        (_final("eval_count", 3.0), P),
    ),
    mutated(
        "count_is_boolean",
        "prompt_tokens / prompt_eval_count is true",
        (_usage("prompt_tokens", True), P),
        (_final("prompt_eval_count", True), P),
    ),
    mutated(
        "timings_not_object",
        "timings is an array / eval_duration is a string",
        (_field(4, "timings", [1, 2]), P),
        (_final("eval_duration", "2ms"), P),
    ),
    mutated(
        "nan_timings",
        "NaN where a duration or rate is read",
        (raw(4, "timings.predicted_per_second", "NaN"), P),
        (raw(-1, "eval_duration", "NaN"), P),
    ),
    mutated(
        "infinite_timings",
        "1e999 (infinity) where a duration is read",
        (raw(4, "timings.prompt_ms", "1e999"), P),
        (raw(-1, "prompt_eval_duration", "-Infinity"), P),
    ),
    mutated(
        "absurd_counts",
        "10^19 and negative token counts",
        (chain(_usage("completion_tokens", 10**19), _usage("prompt_tokens", -5)), OK),
        (chain(_final("eval_count", 10**19), _final("prompt_eval_count", -5)), OK),
        check=lambda r: suspects(
            *(
                ("usage.completion_tokens", "usage.prompt_tokens")
                if r.api == "openai"
                else ("eval_count", "prompt_eval_count")
            )
        )(r),
    ),
    mutated(
        "negative_durations",
        "negative prefill and decode durations",
        (chain(_timings("prompt_ms", -4.0), _timings("predicted_ms", -2)), OK),
        (chain(_final("prompt_eval_duration", -4), _final("eval_duration", -1)), OK),
        check=lambda r: suspects(
            *(
                ("timings.prompt_ms", "timings.predicted_ms")
                if r.api == "openai"
                else ("prompt_eval_duration", "eval_duration")
            )
        )(r),
    ),
    mutated(
        "absurd_rates",
        "10^12 and negative tokens per second",
        (chain(_timings("predicted_per_second", 1e12), _timings("prompt_per_second", -3)), OK),
        (chain(_final("eval_count", 1000), _final("eval_duration", 1)), OK),
        check=lambda r: suspects(
            *(
                ("timings.predicted_per_second", "timings.prompt_per_second")
                if r.api == "openai"
                else ("eval_count/eval_duration",)
            )
        )(r),
    ),
    mutated(
        "deep_nesting",
        "an event nested 100 deep (cap 64)",
        (_field(D, "x", nested(100)), P),
        (_field(L, "x", nested(100)), P),
        listing=json.dumps(
            {"object": "list", "data": nested(100), "version": nested(100)}
        ).encode(),
    ),
    mutated(
        "very_deep_nesting",
        "an event nested 100,000 deep (past Python's recursion limit)",
        (replace(D, deep_bytes(100_000)), P),
        (replace(L, deep_bytes(100_000)), P),
        listing=deep_bytes(100_000),
    ),
    mutated(
        "not_json_event",
        "an event cut off mid-JSON",
        (replace(D, b'{"choices": [{"delta": {"content": "He'), P),
        (replace(L, b'{"message": {"content": "He'), P),
    ),
    mutated(
        "event_not_object",
        "an event that is a JSON array",
        (replace(D, b"[1, 2, 3]"), P),
        (replace(L, b"[1, 2, 3]"), P),
    ),
    mutated(
        "invalid_utf8",
        "bytes that are not UTF-8 in an event",
        (replace(D, b'{"choices": [{"delta": {"content": "\xff\xfe"}}]}'), P),
        (replace(L, b'{"message": {"content": "\xff\xfe"}, "done": false}'), P),
    ),
    mutated(
        "error_event",
        "an error object inside a 200 stream",
        (
            replace(2, {"error": {"message": "slot unavailable", "type": "server_error"}}),
            "server_error_event",
        ),
        (replace(1, {"error": "out of memory"}), "server_error_event"),
    ),
    mutated(
        "null_fields",
        "null in every optional field",
        (
            chain(
                _delta("reasoning_content", None),
                _delta("tool_calls", None),
                _field(4, "usage", None),
                _field(4, "timings", None),
            ),
            OK,
        ),
        (
            chain(
                _message("thinking", None),
                _message("tool_calls", None),
                _final("done_reason", None),
            ),
            OK,
        ),
        check=answer_is(ANSWER),
    ),
    mutated(
        "empty_objects",
        "{} events between the real ones",
        (insert(2, {}, {}), OK),
        (insert(1, {}, {}), OK),
        check=answer_is(ANSWER),
    ),
    mutated(
        "unknown_fields",
        "vendor fields, 10 levels deep, next to the real ones",
        (_field(D, "x_vendor", {"a": nested(10), "logprobs": None}), OK),
        (_field(L, "x_vendor", {"a": nested(10)}), OK),
        check=answer_is(ANSWER),
    ),
    mutated(
        "duplicate_end",
        "the end marker twice",
        (insert(-1, b"[DONE]"), OK),
        (insert(-1, healthy("ollama")[-1]), OK),
        check=answer_is(ANSWER),
    ),
    mutated(
        "missing_end_marker",
        "the stream ends cleanly without finish_reason/[DONE] or done",
        (drop(3, -1), "closed"),
        (drop(-1), "closed"),
    ),
    _tools(
        "parallel_calls_one_index",
        "two tool calls with different ids at OpenAI index 0 (never merged into one name)",
        chain(edit(3, f"{TOOL}.index", 0), edit(4, f"{TOOL}.index", 0)),
        edit(0, "message.tool_calls.1.id", "call_b"),
        (OK, OK),
        two_calls,
    ),
    _tools(
        "tool_calls_not_array",
        "tool_calls is an object",
        edit(1, "choices.0.delta.tool_calls", {"index": 0}),
        edit(0, "message.tool_calls", {"function": {"name": "f"}}),
    ),
    _tools(
        "tool_call_not_object",
        "tool_calls[0] is a number",
        edit(1, TOOL, 5),
        edit(0, OTOOL, 5),
    ),
    _tools(
        "tool_index_not_integer",
        'index is "0" (Ollama has no index)',
        edit(1, f"{TOOL}.index", "0"),
        edit(0, f"{OTOOL}.index", "0"),
        (P, OK),
        two_calls,
    ),
    _tools(
        "tool_id_not_string",
        "a tool call id is a number",
        edit(1, f"{TOOL}.id", 5),
        edit(0, f"{OTOOL}.id", 5),
    ),
    _tools(
        "tool_function_not_object",
        "function is a string",
        edit(1, f"{TOOL}.function", "calculator"),
        edit(0, f"{OTOOL}.function", "calculator"),
    ),
    _tools(
        "tool_name_not_string",
        "function.name is a number",
        edit(1, f"{TOOL}.function.name", 5),
        edit(0, f"{OTOOL}.function.name", 5),
    ),
    _tools(
        "tool_arguments_wrong_type",
        "function.arguments is a number",
        edit(2, f"{TOOL}.function.arguments", 5),
        edit(0, f"{OTOOL}.function.arguments", 5),
    ),
    _tools(
        "too_many_tool_calls",
        "200 tool calls in one reply (cap 128)",
        edit(1, "choices.0.delta.tool_calls", MANY_CALLS),
        edit(0, "message.tool_calls", MANY_CALLS),
    ),
    _tools(
        "huge_tool_arguments",
        "2 MiB of arguments in one call (cap 1 MiB)",
        edit(2, f"{TOOL}.function.arguments", HUGE_ARGUMENTS),
        edit(0, f"{OTOOL}.function.arguments", json.loads(HUGE_ARGUMENTS)),
    ),
)
"""Every fault in what events say."""
