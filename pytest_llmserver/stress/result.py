"""``TestStats``: what one stress-mode run produced (the aggregate; records are on disk).

Our exact figures are in ``summary`` (``None`` where nothing was measured). The seed's fields
are read-only views of them, in seconds or tok/s, 0 where there was no data (so
``f"{stats.avg_ttft:.2f}"`` never fails). Measured = not warm-up; ok = succeeded.

| seed field | definition here |
|---|---|
| ``total``, ``completed`` | measured requests: ``summary.ok + summary.failed`` |
| ``success``, ``failed`` | measured requests that succeeded / failed |
| ``errors`` | ``request <index>: <error_class>: <error>`` per failed request (1) |
| ``avg_response_time`` | mean ``e2e_s`` (2) |
| ``avg_tps`` | mean ``output_tokens / e2e_s`` over ok requests with ``e2e_s > 0`` |
| ``avg_decode_tps``, ``avg_ttft`` | mean ``decode_tps`` / ``ttft_s`` |
| ``total_throughput_tps`` | ``summary.throughput.output_tokens_per_s`` (over the window) |
| ``wall_clock_time`` | ``summary.throughput.window_s``: first send to last end |
| ``total_output_tokens`` | ``summary.throughput.output_tokens`` (ok requests) |
| ``p50/p95/p99_response_time`` | percentiles of ``e2e_s`` (3) |
| ``p50_ttft``, ``p95_ttft``, ``p50_decode_tps`` | percentiles of ``ttft_s`` / ``decode_tps`` (3) |
| ``max_concurrent`` | peak requests in flight, from the records' ``sent_s`` .. ``end_s`` |
| ``stddev_response_time``, ``_ttft``, ``_decode_tps`` | stddev of those metrics (4) |
| ``min/max_decode_tps``, ``min/max_ttft`` | extremes of ``decode_tps`` / ``ttft_s`` |
| ``first/second_half_decode_tps``, ``_ttft`` | half means of ``decode_tps`` / ``ttft_s`` (5) |
| ``notes`` | our ``list[str]`` of run notes (the seed had one string) |
| ``tasks_passed``, ``tasks_total`` | tool bench: trials passed, trials run |
| ``pass_rate`` | tool bench: ``tasks_passed / tasks_total`` |
| ``avg_agent_iterations`` | tool bench: mean model turns per trial |
| ``avg_tool_calls_per_task`` | tool bench: mean tool calls per trial |

(1) In the order they finished. (2) From send, so client set-up and pool waits are not in
it (the seed's timer included them). (3) Linear interpolation between samples; the seed took
the nearest rank and showed p95 only from 10 samples, p99 from 20; ours are always given and
flagged in ``summary`` when thin. (4) Sample stddev (ddof=1); the seed used the population
stddev. (5) ``drift()`` over the ok measured requests in send order: ``n // 2`` values per
half, the middle one of an odd ``n`` in neither (the seed gave it to the second half); 0.0
with fewer than 4 ok requests. Tool-bench fields are 0 in other modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pytest_llmserver.stress.records import is_ok, is_warmup, number, read_records
from pytest_llmserver.stress.saturation import bottleneck_line
from pytest_llmserver.stress.slo import SLOResult
from pytest_llmserver.stress.summary import StressSummary, drift

CLIENT_BOUND_LAG_P99_S = 0.010
"""Event-loop lag p99 above this means the client itself distorts the timings."""

MIN_DRIFT_REQUESTS = 4
"""Fewest ok requests for the seed's half means (else 0.0)."""


@dataclass
class RequestFacts:
    """What the seed fields need from the records beyond the summary (measured ones only)."""

    errors: list[str] = field(default_factory=list)
    avg_tps: float = 0.0
    max_concurrent: int = 0
    halves: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> RequestFacts:
        """Read the records file once."""
        facts = cls()
        tps: list[float] = []
        starts: list[float] = []
        ends: list[float] = []
        ok_rows: list[tuple[float, float | None, float | None]] = []
        for record in read_records(path):
            if is_warmup(record):
                continue
            sent, end = number(record, "sent_s"), number(record, "end_s")
            if sent is not None and end is not None:
                starts.append(sent)
                ends.append(end)
            if not is_ok(record):
                kind = record.get("error_class") or "unknown"
                facts.errors.append(f"request {record.get('index')}: {kind}: {record.get('error')}")
                continue
            e2e = number(record, "e2e_s")
            if e2e is not None and e2e > 0:
                tps.append((number(record, "output_tokens") or 0.0) / e2e)
            order = math.inf if sent is None else sent
            ok_rows.append((order, number(record, "ttft_s"), number(record, "decode_tps")))
        facts.avg_tps = float(np.mean(tps)) if tps else 0.0
        facts.max_concurrent = peak_in_flight(starts, ends)
        ok_rows.sort(key=lambda row: row[0])
        for name, column in (("ttft", 1), ("decode_tps", 2)):
            values = drift(row[column] for row in ok_rows)
            enough = len(ok_rows) >= MIN_DRIFT_REQUESTS
            first, second = values.first_half_mean, values.second_half_mean
            facts.halves[name] = (first or 0.0, second or 0.0) if enough else (0.0, 0.0)
        return facts


def peak_in_flight(starts: list[float], ends: list[float]) -> int:
    """Most intervals ``[start, end)`` open at once (one ending as another starts: not both)."""
    if not starts:
        return 0
    times = np.concatenate([np.asarray(starts), np.asarray(ends)])
    steps = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((steps, times))  # by time, ends (-1) before starts (+1) at a tie
    return int(np.cumsum(steps[order]).max())


@dataclass
class TestStats:
    """One mode's run: parameters (seed included), summary, loop lag, mode-specific tables;
    ``t0_unix_s`` is the wall-clock time of the measurement origin (``sent_s`` = 0).
    ``interrupted`` marks a run stopped early (cancelled or interrupted): its figures cover the
    records written until then. The seed's fields are read-only views (see the module
    docstring for their definitions)."""

    __test__ = False  # not a pytest test class

    mode: str
    params: dict[str, Any]
    server: dict[str, Any]
    model: str
    summary: StressSummary
    records_path: Path
    wall_s: float
    loop_lag_p99_s: float | None = None
    loop_lag_max_s: float | None = None
    t0_unix_s: float | None = None
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def client_bound(self) -> bool:
        """True when the client's own event loop lagged enough to inflate timings."""
        return self.loop_lag_p99_s is not None and self.loop_lag_p99_s > CLIENT_BOUND_LAG_P99_S

    @property
    def bottleneck(self) -> str | None:
        """The line naming the bottleneck of an open-loop run that did not keep its schedule
        (client-bound, or in-flight cap reached); None otherwise."""
        return bottleneck_line(self.figures, self.params)

    @property
    def slo_results(self) -> list[SLOResult]:
        """SLO checks of this run (empty when none were given)."""
        return self.summary.slos

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (records stay in ``records_path``)."""
        return {
            "mode": self.mode,
            "params": self.params,
            "server": self.server,
            "model": self.model,
            "summary": self.summary.to_dict(),
            "records_path": str(self.records_path),
            "wall_s": self.wall_s,
            "loop_lag_p99_s": self.loop_lag_p99_s,
            "loop_lag_max_s": self.loop_lag_max_s,
            "t0_unix_s": self.t0_unix_s,
            "client_bound": self.client_bound,
            "tables": self.tables,
            "figures": self.figures,
            "notes": self.notes,
            "interrupted": self.interrupted,
        }

    # The seed's fields ------------------------------------------------------------------------

    @cached_property
    def _facts(self) -> RequestFacts:
        return RequestFacts.from_file(self.records_path)

    def _stat(self, metric: str, stat: str) -> float:
        summary = self.summary.metrics.metric(metric)
        value = None if summary is None else getattr(summary, stat)
        return 0.0 if value is None else float(value)

    def _bench(self, name: str) -> float:
        value = self.figures.get(name) if self.mode == "tool_bench" else None
        return float(value) if isinstance(value, (int, float)) else 0.0

    @property
    def total(self) -> int:
        """Measured requests."""
        return self.summary.ok + self.summary.failed

    @property
    def completed(self) -> int:
        """Measured requests (all are complete when the run returns)."""
        return self.total

    @property
    def success(self) -> int:
        """Measured requests that succeeded."""
        return self.summary.ok

    @property
    def failed(self) -> int:
        """Measured requests that failed."""
        return self.summary.failed

    @property
    def errors(self) -> list[str]:
        """One line per failed measured request: index, error class and message."""
        return list(self._facts.errors)

    @property
    def avg_response_time(self) -> float:
        """Mean ``e2e_s``, seconds."""
        return self._stat("e2e_s", "mean")

    @property
    def avg_tps(self) -> float:
        """Mean per-request ``output_tokens / e2e_s``, tok/s."""
        return self._facts.avg_tps

    @property
    def avg_decode_tps(self) -> float:
        """Mean ``decode_tps``, tok/s."""
        return self._stat("decode_tps", "mean")

    @property
    def avg_ttft(self) -> float:
        """Mean ``ttft_s``, seconds."""
        return self._stat("ttft_s", "mean")

    @property
    def total_throughput_tps(self) -> float:
        """Output tokens per second over the measurement window."""
        return self.summary.throughput.output_tokens_per_s or 0.0

    @property
    def wall_clock_time(self) -> float:
        """The measurement window, seconds."""
        return self.summary.throughput.window_s or 0.0

    @property
    def total_output_tokens(self) -> int:
        """Output tokens of the successful measured requests."""
        return self.summary.throughput.output_tokens

    @property
    def p50_response_time(self) -> float:
        """Median ``e2e_s``, seconds."""
        return self._stat("e2e_s", "p50")

    @property
    def p95_response_time(self) -> float:
        """p95 of ``e2e_s``, seconds."""
        return self._stat("e2e_s", "p95")

    @property
    def p99_response_time(self) -> float:
        """p99 of ``e2e_s``, seconds."""
        return self._stat("e2e_s", "p99")

    @property
    def p50_ttft(self) -> float:
        """Median ``ttft_s``, seconds."""
        return self._stat("ttft_s", "p50")

    @property
    def p95_ttft(self) -> float:
        """p95 of ``ttft_s``, seconds."""
        return self._stat("ttft_s", "p95")

    @property
    def p50_decode_tps(self) -> float:
        """Median ``decode_tps``, tok/s."""
        return self._stat("decode_tps", "p50")

    @property
    def max_concurrent(self) -> int:
        """Peak number of requests in flight."""
        return self._facts.max_concurrent

    @property
    def stddev_response_time(self) -> float:
        """Sample stddev of ``e2e_s``, seconds."""
        return self._stat("e2e_s", "stddev")

    @property
    def stddev_ttft(self) -> float:
        """Sample stddev of ``ttft_s``, seconds."""
        return self._stat("ttft_s", "stddev")

    @property
    def stddev_decode_tps(self) -> float:
        """Sample stddev of ``decode_tps``, tok/s."""
        return self._stat("decode_tps", "stddev")

    @property
    def min_decode_tps(self) -> float:
        """Lowest ``decode_tps``, tok/s."""
        return self._stat("decode_tps", "min")

    @property
    def max_decode_tps(self) -> float:
        """Highest ``decode_tps``, tok/s."""
        return self._stat("decode_tps", "max")

    @property
    def min_ttft(self) -> float:
        """Lowest ``ttft_s``, seconds."""
        return self._stat("ttft_s", "min")

    @property
    def max_ttft(self) -> float:
        """Highest ``ttft_s``, seconds."""
        return self._stat("ttft_s", "max")

    @property
    def first_half_decode_tps(self) -> float:
        """Mean ``decode_tps`` of the first half of the successful requests, tok/s."""
        return self._facts.halves["decode_tps"][0]

    @property
    def second_half_decode_tps(self) -> float:
        """Mean ``decode_tps`` of the second half of the successful requests, tok/s."""
        return self._facts.halves["decode_tps"][1]

    @property
    def first_half_ttft(self) -> float:
        """Mean ``ttft_s`` of the first half of the successful requests, seconds."""
        return self._facts.halves["ttft"][0]

    @property
    def second_half_ttft(self) -> float:
        """Mean ``ttft_s`` of the second half of the successful requests, seconds."""
        return self._facts.halves["ttft"][1]

    @property
    def tasks_passed(self) -> int:
        """Tool bench: trials that passed."""
        return int(self._bench("tasks_passed"))

    @property
    def tasks_total(self) -> int:
        """Tool bench: trials run."""
        return int(self._bench("tasks_total"))

    @property
    def pass_rate(self) -> float:
        """Tool bench: ``tasks_passed / tasks_total`` (0.0 without trials)."""
        return self.tasks_passed / self.tasks_total if self.tasks_total else 0.0

    @property
    def avg_agent_iterations(self) -> float:
        """Tool bench: mean model turns per trial."""
        return self._bench("avg_agent_iterations")

    @property
    def avg_tool_calls_per_task(self) -> float:
        """Tool bench: mean tool calls per trial."""
        return self._bench("avg_tool_calls_per_task")
