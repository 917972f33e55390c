"""A stand-in for ``ModelClient`` that mixes planned faults into successes and counts every call,
so tests can hold the engines to "records written == requests sent"."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_llmserver.client import (
    CANCELLED,
    INTERNAL,
    ChatMetrics,
    ChatResponse,
    LLMError,
    LLMProtocolError,
    LLMTimeoutError,
    ServerRecord,
    ToolCall,
)


def _protocol() -> LLMError:
    error = LLMProtocolError("'choices' is a string, not a list: \"x\"")
    error.metrics = ChatMetrics(ttfb_s=0.001)
    return error


def _timeout() -> LLMError:
    error = LLMTimeoutError("no data for 1 s", phase="read")
    error.metrics = ChatMetrics(ttft_s=0.5, output_tokens=3)
    return error


FAULTS: tuple[Callable[[], BaseException], ...] = (
    lambda: ValueError("could not convert string to float: 'NaN?'"),
    lambda: AttributeError("'int' object has no attribute 'get'"),
    lambda: TypeError("string indices must be integers"),
    lambda: RecursionError("maximum recursion depth exceeded"),
    lambda: KeyError("choices"),
    lambda: ZeroDivisionError("division by zero"),
    _protocol,
    _timeout,
)
"""One of each kind of fault a request may end with (our errors keep partial metrics)."""

INTERNAL_TYPES: tuple[str, ...] = (
    "ValueError",
    "AttributeError",
    "TypeError",
    "RecursionError",
    "KeyError",
)
INTERNAL_TYPES += ("ZeroDivisionError",)


def error_class_of(exc: BaseException) -> str:
    """The ``error_class`` a record of a request ending with ``exc`` must carry."""
    if isinstance(exc, LLMError):
        return exc.error_class
    return CANCELLED if isinstance(exc, asyncio.CancelledError) else INTERNAL


class FaultyClient:
    """Answers like a ``ModelClient``; call ``n`` (0-based, every kind of call counted) raises
    ``at[n]()`` when given, ``FAULTS[k]`` when ``n % every == every - 1`` (k cycling),
    ``CancelledError`` when ``n == cancel_at``, and returns a reply whose content is not text
    when ``n in bad_replies`` (else ``text(n)``, or ``"answer <n>"``).

    ``raised`` counts by error class what left the client (cancellations from outside too).
    ``chat_with_tools`` calls the first tool on a task's first turn, then answers.
    """

    def __init__(
        self,
        *,
        every: int = 3,
        faults: Sequence[Callable[[], BaseException]] = FAULTS,
        at: Mapping[int, Callable[[], BaseException]] | None = None,
        cancel_at: int | None = None,
        bad_replies: Sequence[int] = (),
        delay_s: float = 0.002,
        metrics: Callable[[int], ChatMetrics] | None = None,
        text: Callable[[int], str] | None = None,
    ) -> None:
        self.every = every
        self.faults = faults
        self.at = dict(at or {})
        self.cancel_at = cancel_at
        self.bad_replies = set(bad_replies)
        self.delay_s = delay_s
        self.metrics = metrics
        self.text = text
        self.calls = 0
        self.raised: Counter[str] = Counter()
        self.model = "fake"
        self.server = ServerRecord("http://127.0.0.1:9")
        self.temperature: float | None = None
        self.seed: int | None = None
        self.seed_refused = False
        self.system_prompt: str | None = None

    async def __aenter__(self) -> FaultyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _fault(self, n: int) -> BaseException | None:
        if n in self.at:
            return self.at[n]()
        if n == self.cancel_at:
            return asyncio.CancelledError()
        if self.every and n % self.every == self.every - 1:
            return self.faults[(n // self.every) % len(self.faults)]()
        return None

    async def _reply(self, messages: Sequence[dict[str, Any]], calls: list[ToolCall]) -> Any:
        n = self.calls
        self.calls += 1
        try:
            await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.raised[CANCELLED] += 1
            raise
        fault = self._fault(n)
        if fault is not None:
            self.raised[error_class_of(fault)] += 1
            raise fault
        words = sum(len(str(m.get("content") or "").split()) for m in messages)
        metrics = ChatMetrics(
            ttft_s=0.001,
            e2e_s=self.delay_s,
            output_tokens=4,
            decode_tps=3000.0,
            prompt_tokens=round(words / 0.75),
            prompt_tokens_source="usage",
        )
        if self.metrics is not None:
            metrics = self.metrics(n)
        content: Any = self.text(n) if self.text is not None else f"answer {n}"
        if n in self.bad_replies:
            content = 5
        return ChatResponse(content, "", calls, "stop", metrics, "openai")

    async def complete(
        self, messages: Sequence[dict[str, Any]], max_tokens: int | None = None, **_: Any
    ) -> ChatResponse:
        reply: ChatResponse = await self._reply(messages, [])
        return reply

    async def chat_with_tools(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        **_: Any,
    ) -> ChatResponse:
        calls = []
        if messages[-1]["role"] == "user" and tools:
            name = tools[0]["function"]["name"]
            calls.append(ToolCall(0, f"call{self.calls}", name, {}, "{}"))
        reply: ChatResponse = await self._reply(messages, calls)
        return reply

    def tool_result_message(self, call: ToolCall, result: str) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": call.id, "content": result}
