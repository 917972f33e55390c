"""What the simulator really did, counted as it happens: per-model counters, gauges and
histograms for its ``/metrics`` endpoint, and one record per request."""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

MAX_RECORDS = 100_000
# vLLM's bucket bounds (``vllm/v1/metrics/loggers.py``), seconds.
TTFT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
ITL_BUCKETS_S = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0,
)  # fmt: skip
REQUEST_BUCKETS_S = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
    240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
FINISH_REASONS = ("stop", "length", "abort")


@dataclass
class Histogram:
    """Observations counted into fixed buckets (upper bounds, ``+Inf`` implied)."""

    bounds_s: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    sum_s: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds_s) + 1)

    def observe(self, value_s: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.bounds_s, value_s)] += 1
        self.sum_s += value_s
        self.count += 1

    def cumulative(self) -> list[int]:
        """Counts at or below each bound, ``+Inf`` last."""
        out: list[int] = []
        total = 0
        for count in self.counts:
            total += count
            out.append(total)
        return out


@dataclass
class ModelMetrics:
    """Everything counted for one model."""

    running: int = 0
    waiting: int = 0
    kv_tokens: int = 0
    prompt_tokens: int = 0
    """Prompt tokens of every prefilled request (cached ones included), as ``usage`` says."""
    prompt_computed_tokens: int = 0
    """Prompt tokens computed (the prefix cache's excluded), as ``timings.prompt_n`` says."""
    generation_tokens: int = 0
    prompt_s: float = 0.0
    decode_s: float = 0.0
    decodes: int = 0
    busy_slots_total: int = 0
    finished: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FINISH_REASONS, 0))
    ttft: Histogram = field(default_factory=lambda: Histogram(TTFT_BUCKETS_S))
    itl: Histogram = field(default_factory=lambda: Histogram(ITL_BUCKETS_S))
    e2e: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS_S))
    queue: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS_S))
    inference: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS_S))
    prefill: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS_S))
    decode: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS_S))


@dataclass(frozen=True)
class RequestRecord:
    """What the simulator did for one request that got a slot (seconds; ``arrival_s`` and
    ``start_s`` on the server's loop clock, the rest measured with ``perf_counter_ns``)."""

    model: str
    arrival_s: float
    """When the request's last byte was read."""
    start_s: float
    """When its service began: at arrival when a slot was free, else when the service of the
    request that freed the slot ended (by the timing model, not by the simulator's lag)."""
    queued_s: float
    """``start_s - arrival_s``: the wait for a slot."""
    ttft_s: float | None
    e2e_s: float
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass
class Bucket:
    """Prompt and generation work since the last llama.cpp-style scrape (its rate gauges)."""

    prompt_tokens: int = 0
    prompt_s: float = 0.0
    predicted_tokens: int = 0
    predicted_s: float = 0.0


class ServerMetrics:
    """The counters of one simulated server; :meth:`begin` opens one request's :class:`Trace`."""

    def __init__(self, kv_cache_tokens: int, models: tuple[str, ...] = ()) -> None:
        self.kv_cache_tokens = kv_cache_tokens
        self.models: dict[str, ModelMetrics] = {model: ModelMetrics() for model in models}
        self.records: deque[RequestRecord] = deque(maxlen=MAX_RECORDS)
        self.bucket = Bucket()
        self.busy = 0
        """Requests holding a slot, all models (kept as they start and end)."""

    def of(self, model: str) -> ModelMetrics:
        """The metrics of ``model`` (created empty on first use)."""
        return self.models.setdefault(model, ModelMetrics())

    @property
    def running(self) -> int:
        """Requests holding a slot, all models."""
        return self.busy

    def take_bucket(self) -> Bucket:
        """The work since the previous call, and start a new bucket."""
        bucket, self.bucket = self.bucket, Bucket()
        return bucket

    def begin(
        self, model: str, prompt_tokens: int, cached_tokens: int, arrival: tuple[int, float]
    ) -> Trace:
        """A request has arrived (``arrival``: perf_counter ns, loop s) and waits for a slot."""
        return Trace(self, model, prompt_tokens, cached_tokens, arrival)


class Trace:
    """One request's passage: queued, started, each token written, finished, slot freed."""

    def __init__(
        self,
        metrics: ServerMetrics,
        model: str,
        prompt_tokens: int,
        cached_tokens: int,
        arrival: tuple[int, float],
    ) -> None:
        self._server = metrics
        self._model = model
        self._m = metrics.of(model)
        self._prompt_tokens = prompt_tokens
        self._cached_tokens = cached_tokens
        self._arrival_ns, self._arrival_s = arrival
        self._start_s = self._arrival_s
        self._start_ns = 0
        self._queued_s = 0.0
        self._first_ns: int | None = None
        self._last_ns: int | None = None
        self._tokens = 0
        self._held = 0
        self._state = "waiting"
        self._m.waiting += 1

    @property
    def finished(self) -> bool:
        """Whether the reply was completed."""
        return self._state == "finished"

    def started(self, start_s: float) -> None:
        """The request got a slot at loop time ``start_s``; its prompt is held."""
        m = self._m
        queued_s = start_s - self._arrival_s
        self._start_s = start_s
        m.waiting -= 1
        m.running += 1
        self._server.busy += 1
        m.queue.observe(queued_s)
        self._state = "running"
        self._queued_s = queued_s
        self._start_ns = self._arrival_ns + round(queued_s * 1e9)
        self._hold(self._prompt_tokens)

    def _hold(self, tokens: int) -> None:
        self._held += tokens
        self._m.kv_tokens += tokens

    def _decode(self) -> None:
        self._m.decodes += 1
        self._m.busy_slots_total += self._server.busy

    def _prefilled(self, now_ns: int) -> None:
        """The prompt is computed: count its tokens and time (one decode call)."""
        m, bucket = self._m, self._server.bucket
        prefill_s = max(now_ns - self._start_ns, 0) / 1e9
        computed = self._prompt_tokens - self._cached_tokens
        m.prompt_tokens += self._prompt_tokens
        m.prompt_computed_tokens += computed
        m.prompt_s += prefill_s
        m.prefill.observe(prefill_s)
        bucket.prompt_tokens += computed
        bucket.prompt_s += prefill_s
        self._decode()

    def token(self, now_ns: int) -> None:
        """One generated token was written at ``now_ns`` (one decode call)."""
        m, bucket = self._m, self._server.bucket
        if self._first_ns is None:
            self._prefilled(now_ns)
            self._first_ns = now_ns
            m.ttft.observe((now_ns - self._arrival_ns) / 1e9)
        else:
            gap_s = (now_ns - (self._last_ns or now_ns)) / 1e9
            m.itl.observe(gap_s)
            m.decode_s += gap_s
            bucket.predicted_s += gap_s
            self._decode()
        self._last_ns = now_ns
        self._tokens += 1
        m.generation_tokens += 1
        bucket.predicted_tokens += 1
        self._hold(1)

    def finish(self, now_ns: int, reason: str) -> None:
        """The reply is complete (``stop`` or ``length``)."""
        if self._first_ns is None:
            self._prefilled(now_ns)
        self._end(now_ns, reason)
        self._state = "finished"

    def _end(self, now_ns: int, reason: str) -> None:
        m = self._m
        m.finished[reason] += 1
        e2e_s = (now_ns - self._arrival_ns) / 1e9
        m.e2e.observe(e2e_s)
        m.inference.observe(max(now_ns - self._start_ns, 0) / 1e9)
        first = self._first_ns
        m.decode.observe(((self._last_ns or 0) - first) / 1e9 if first is not None else 0.0)
        ttft_s = (first - self._arrival_ns) / 1e9 if first is not None else None
        self._server.records.append(
            RequestRecord(
                self._model,
                self._arrival_s,
                self._start_s,
                self._queued_s,
                ttft_s,
                e2e_s,
                self._prompt_tokens,
                self._tokens,
                reason,
            )
        )

    def close(self, now_ns: int) -> None:
        """The slot is free (or the request left the queue); a reply not completed aborted."""
        m = self._m
        if self._state == "waiting":
            m.waiting -= 1
        elif self._state in ("running", "finished"):
            if self._state == "running":
                self._end(now_ns, "abort")
            m.running -= 1
            self._server.busy -= 1
            m.kv_tokens -= self._held
            self._held = 0
        self._state = "closed"
