"""Per-request timing and token metrics, recorded as bytes arrive.

Every interval starts at "send": the moment httpx reports the request body fully written.
Time spent before that (client set-up, pool waits, TCP connect) is kept in ``pool_wait_s`` and
``connect_s`` and never leaks into TTFB/TTFT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_llmserver.client.limits import MAX_RATE_TPS

TokenSource = Literal["usage", "server", "estimate"]

_NS = 1e-9


@dataclass
class ChatMetrics:
    """What one chat request measured. Times in seconds (``_s``) or nanoseconds (``_ns``)."""

    model: str = ""
    api: str = ""
    url: str = ""
    # Raw perf_counter_ns stamps; 0 = did not happen.
    t_call_ns: int = 0
    t_send_ns: int = 0
    t_first_byte_ns: int = 0
    t_first_token_ns: int = 0
    t_first_content_ns: int = 0
    t_first_tool_call_ns: int = 0
    t_last_token_ns: int = 0
    t_decode_end_ns: int = 0
    t_end_ns: int = 0
    # Client-side phases before "send".
    pool_wait_s: float | None = None
    connect_s: float | None = None
    # Intervals from "send".
    ttfb_s: float | None = None
    ttft_s: float | None = None
    ttfc_s: float | None = None
    ttf_tool_call_s: float | None = None
    e2e_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    tpot_s: float | None = None
    decode_tps: float | None = None
    # Token counts, each with where it came from.
    prompt_tokens: int | None = None
    prompt_tokens_source: TokenSource | None = None
    output_tokens: int = 0
    output_tokens_source: TokenSource = "estimate"
    reasoning_tokens: int = 0
    reasoning_tokens_source: TokenSource = "estimate"
    cached_tokens: int | None = None
    token_events: int = 0
    # As the server reports them.
    prompt_eval_duration_ns: int | None = None
    eval_duration_ns: int | None = None
    load_duration_ns: int | None = None
    """Ollama's ``load_duration``: time spent loading the model for this request."""
    server_prefill_tps: float | None = None
    server_decode_tps: float | None = None
    finish_reason: str | None = None
    http_status: int | None = None
    usage_fallback: bool = False
    stale_connection_retry: bool = False
    send_traced: bool = False
    # Server-reported figures outside physical ranges: their names (the values are dropped).
    suspect: list[str] = field(default_factory=list)

    @property
    def ttft(self) -> float | None:
        """Seconds from send to the first generated token of any kind (seed name of ``ttft_s``)."""
        return self.ttft_s

    @property
    def completion_tokens(self) -> int:
        """Generated tokens, reasoning included (seed name of ``output_tokens``)."""
        return self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class ServerCounts:
    """Token counts and durations a server reported (usage, timings, Ollama counters)."""

    prompt_tokens: int | None = None
    prompt_source: TokenSource = "usage"
    output_tokens: int | None = None
    output_source: TokenSource = "usage"
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    prompt_eval_duration_ns: int | None = None
    eval_duration_ns: int | None = None
    load_duration_ns: int | None = None
    prefill_tps: float | None = None
    decode_tps: float | None = None
    suspect: list[str] = field(default_factory=list)
    """Names of figures outside their physical range (``limits``); their values were dropped."""


class StreamClock:
    """Stamps a response's events; ``finish`` turns the stamps into ``ChatMetrics``."""

    __slots__ = (
        "_last_token_ns",
        "finish_ns",
        "first_byte_ns",
        "first_content_ns",
        "first_token_ns",
        "first_tool_call_ns",
        "gaps_ns",
        "last_event_ns",
        "reasoning_events",
        "token_events",
    )

    def __init__(self) -> None:
        self.first_byte_ns = 0
        self.last_event_ns = 0
        self.first_token_ns = 0
        self.first_content_ns = 0
        self.first_tool_call_ns = 0
        self.finish_ns = 0
        self._last_token_ns = 0
        self.gaps_ns: list[int] = []
        self.token_events = 0
        self.reasoning_events = 0

    def event(self, t_ns: int) -> None:
        """Any response event arrived (the first one sets TTFB, the last one E2E)."""
        if not self.first_byte_ns:
            self.first_byte_ns = t_ns
        self.last_event_ns = t_ns

    def token(self, t_ns: int, *, answer: bool, reasoning: bool) -> None:
        """A token-bearing event arrived; ``answer`` when it holds visible answer text."""
        if self._last_token_ns:
            self.gaps_ns.append(t_ns - self._last_token_ns)
        else:
            self.first_token_ns = t_ns
        self._last_token_ns = t_ns
        self.token_events += 1
        if reasoning:
            self.reasoning_events += 1
        if answer and not self.first_content_ns:
            self.first_content_ns = t_ns

    def tool_call(self, t_ns: int) -> None:
        """A tool-call delta arrived (also a generated token)."""
        if not self.first_tool_call_ns:
            self.first_tool_call_ns = t_ns
        self.token(t_ns, answer=False, reasoning=False)

    def finished(self, t_ns: int) -> None:
        """The event that ends generation arrived (``finish_reason`` or Ollama ``done``)."""
        if not self.finish_ns:
            self.finish_ns = t_ns

    def finish(
        self,
        metrics: ChatMetrics,
        counts: ServerCounts,
        *,
        prompt_estimate: int,
    ) -> ChatMetrics:
        """Fill ``metrics`` from the stamps and the server's own counts."""
        send = metrics.t_send_ns

        def since_send(t_ns: int) -> float | None:
            return (t_ns - send) * _NS if t_ns and send else None

        metrics.t_first_byte_ns = self.first_byte_ns
        metrics.t_first_token_ns = self.first_token_ns
        metrics.t_first_content_ns = self.first_content_ns
        metrics.t_first_tool_call_ns = self.first_tool_call_ns
        metrics.t_last_token_ns = self._last_token_ns
        metrics.t_end_ns = self.last_event_ns
        metrics.ttfb_s = since_send(self.first_byte_ns)
        metrics.ttft_s = since_send(self.first_token_ns)
        metrics.ttfc_s = since_send(self.first_content_ns)
        metrics.ttf_tool_call_s = since_send(self.first_tool_call_ns)
        metrics.e2e_s = since_send(self.last_event_ns)
        metrics.itl_s = [gap * _NS for gap in self.gaps_ns]
        metrics.token_events = self.token_events

        if counts.output_tokens is not None:
            metrics.output_tokens = counts.output_tokens
            metrics.output_tokens_source = counts.output_source
        else:
            metrics.output_tokens = self.token_events
            metrics.output_tokens_source = "estimate"
        if counts.reasoning_tokens is not None:
            metrics.reasoning_tokens = counts.reasoning_tokens
            metrics.reasoning_tokens_source = counts.output_source
        else:
            metrics.reasoning_tokens = self.reasoning_events
            metrics.reasoning_tokens_source = "estimate"
        if counts.prompt_tokens is not None:
            metrics.prompt_tokens = counts.prompt_tokens
            metrics.prompt_tokens_source = counts.prompt_source
        else:
            metrics.prompt_tokens = prompt_estimate
            metrics.prompt_tokens_source = "estimate"
        metrics.cached_tokens = counts.cached_tokens
        metrics.prompt_eval_duration_ns = counts.prompt_eval_duration_ns
        metrics.load_duration_ns = counts.load_duration_ns
        metrics.eval_duration_ns = counts.eval_duration_ns
        metrics.server_prefill_tps = counts.prefill_tps
        metrics.server_decode_tps = counts.decode_tps
        metrics.suspect = list(dict.fromkeys(counts.suspect))

        # Servers count the end-of-sequence token, which is generated but never streamed; the
        # finish event arrives right after it, so the decode window ends there when present.
        decode_end_ns = max(self._last_token_ns, self.finish_ns)
        metrics.t_decode_end_ns = decode_end_ns
        span_ns = decode_end_ns - self.first_token_ns
        if metrics.output_tokens > 1 and self.first_token_ns and span_ns > 0:
            decode_tps = (metrics.output_tokens - 1) / (span_ns * _NS)
            if decode_tps <= MAX_RATE_TPS:
                metrics.tpot_s = span_ns * _NS / (metrics.output_tokens - 1)
                metrics.decode_tps = decode_tps
            else:  # a server count no stream could deliver in that time
                metrics.suspect.append("decode_tps")
        return metrics


def estimate_tokens(text: str) -> int:
    """Rough token count (~4 characters a token) for when the server gives none."""
    return max(1, round(len(text) / 4)) if text else 0
