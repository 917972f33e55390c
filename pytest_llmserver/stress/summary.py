"""Whole-run statistics over stress records: throughput, error counts, the ``StressSummary``
(from records in memory or a JSONL file read in chunks) and drift over a run.

A record is one flat dict per request (see ``pytest_llmserver.stress.records``). Every aggregate
is built by small collectors fed record by record, so ``summarize_records`` and
``summarize_file`` share one code path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pytest_llmserver.client import ERROR_CLASSES
from pytest_llmserver.stress.lengths import LengthCollector, LengthStats
from pytest_llmserver.stress.percentiles import MetricCollector, MetricTable, finite_array
from pytest_llmserver.stress.prompt_cache import PromptCache, PromptCacheCollector
from pytest_llmserver.stress.records import Record, is_ok, is_warmup, iter_records, number
from pytest_llmserver.stress.slo import Goodput, GoodputCollector, SLOResult, check_slos

UNKNOWN_ERROR_CLASS = "unknown"
"""Class counted for a failed record whose ``error_class`` is missing."""


# --------------------------------------------------------------------------- throughput


@dataclass(frozen=True)
class Throughput:
    """Rates over the measurement window: first non-warm-up send to last non-warm-up end.

    ``requests`` and ``output_tokens`` count successful non-warm-up requests only; ``errors``
    counts failed non-warm-up requests. Rates are ``None`` when the window is missing or empty.
    """

    window_s: float | None
    requests: int
    requests_per_s: float | None
    output_tokens: int
    output_tokens_per_s: float | None
    errors: int
    errors_per_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


class ThroughputCollector:
    """Builds a ``Throughput`` from records fed one at a time."""

    def __init__(self) -> None:
        self._first_send_s: float | None = None
        self._last_end_s: float | None = None
        self._requests = 0
        self._output_tokens = 0
        self._errors = 0

    def add(self, record: Record) -> None:
        if is_warmup(record):
            return
        sent, end = number(record, "sent_s"), number(record, "end_s")
        if sent is not None and (self._first_send_s is None or sent < self._first_send_s):
            self._first_send_s = sent
        if end is not None and (self._last_end_s is None or end > self._last_end_s):
            self._last_end_s = end
        if is_ok(record):
            self._requests += 1
            self._output_tokens += int(number(record, "output_tokens") or 0)
        else:
            self._errors += 1

    def throughput(self) -> Throughput:
        """The rates of everything added so far."""
        window: float | None = None
        if self._first_send_s is not None and self._last_end_s is not None:
            window = self._last_end_s - self._first_send_s

        def rate(count: int) -> float | None:
            return count / window if window is not None and window > 0 else None

        return Throughput(
            window_s=window,
            requests=self._requests,
            requests_per_s=rate(self._requests),
            output_tokens=self._output_tokens,
            output_tokens_per_s=rate(self._output_tokens),
            errors=self._errors,
            errors_per_s=rate(self._errors),
        )


def throughput(records: Iterable[Record]) -> Throughput:
    """Request, token and error rates of the non-warm-up ``records``."""
    collector = ThroughputCollector()
    for record in records:
        collector.add(record)
    return collector.throughput()


# --------------------------------------------------------------------------- errors


class ErrorCollector:
    """Counts failed non-warm-up records by error class."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(ERROR_CLASSES, 0)

    def add(self, record: Record) -> None:
        if is_warmup(record) or is_ok(record):
            return
        name = record.get("error_class") or UNKNOWN_ERROR_CLASS
        self.counts[str(name)] = self.counts.get(str(name), 0) + 1


def error_counts(records: Iterable[Record]) -> dict[str, int]:
    """Failed non-warm-up requests by ``error_class``, zero-filled for ``ERROR_CLASSES``.

    A failure without an ``error_class`` is counted as ``"unknown"``; other classes are added
    as they appear.
    """
    collector = ErrorCollector()
    for record in records:
        collector.add(record)
    return collector.counts


# --------------------------------------------------------------------------- suspect figures


class SuspectCollector:
    """Counts the records (warm-up included) whose ``suspect`` names server-reported figures
    outside physical ranges, in total and by figure."""

    def __init__(self) -> None:
        self.records = 0
        self.counts: dict[str, int] = {}

    def add(self, record: Record) -> None:
        names = record.get("suspect")
        if not isinstance(names, list) or not names:
            return
        self.records += 1
        for name in dict.fromkeys(str(n) for n in names):
            self.counts[name] = self.counts.get(name, 0) + 1


def suspect_note(summary: StressSummary) -> str | None:
    """One line on the records with suspect server figures; ``None`` when there were none."""
    if not summary.suspect_records:
        return None
    by_field = ", ".join(f"{name} {count}" for name, count in sorted(summary.suspect.items()))
    return (
        f"{summary.suspect_records} of {summary.total} records had server figures outside "
        f"physical ranges, dropped from every statistic ({by_field})"
    )


# --------------------------------------------------------------------------- whole runs


@dataclass(frozen=True)
class StressSummary:
    """Everything computed over one run's records.

    ``total`` counts every record, ``warmup`` the warm-up ones; ``ok`` and ``failed`` count
    the non-warm-up rest (``total == warmup + ok + failed``). ``goodput`` and ``slos`` are set
    only when SLOs were given. ``suspect_records`` counts the records (warm-up included) with
    server figures outside physical ranges, ``suspect`` the same by figure name;
    ``prompt_cache`` the prompt tokens served from the server's cache; ``lengths`` the
    requested against the actual token lengths, per direction a run asked for.
    """

    metrics: MetricTable
    throughput: Throughput
    errors: dict[str, int]
    total: int
    ok: int
    failed: int
    warmup: int
    goodput: Goodput | None = None
    slos: list[SLOResult] = field(default_factory=list)
    suspect_records: int = 0
    suspect: dict[str, int] = field(default_factory=dict)
    prompt_cache: PromptCache = field(default_factory=PromptCache)
    lengths: dict[str, LengthStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict."""
        return {
            "metrics": self.metrics.to_dict(),
            "throughput": self.throughput.to_dict(),
            "errors": dict(self.errors),
            "total": self.total,
            "ok": self.ok,
            "failed": self.failed,
            "warmup": self.warmup,
            "goodput": self.goodput.to_dict() if self.goodput is not None else None,
            "slos": [result.to_dict() for result in self.slos],
            "suspect_records": self.suspect_records,
            "suspect": dict(self.suspect),
            "prompt_cache": self.prompt_cache.to_dict(),
            "lengths": {key: value.to_dict() for key, value in self.lengths.items()},
        }


class RunCollector:
    """Feeds each record to every collector of a ``StressSummary``."""

    def __init__(self, slos: Mapping[str, float] | None) -> None:
        self._slos = dict(slos or {})
        self._metrics = MetricCollector()
        self._throughput = ThroughputCollector()
        self._errors = ErrorCollector()
        self._suspect = SuspectCollector()
        self._cache = PromptCacheCollector()
        self._lengths = LengthCollector()
        self._goodput = GoodputCollector(self._slos) if self._slos else None
        self._total = self._warmup = self._ok = 0

    def add(self, record: Record) -> None:
        self._total += 1
        if is_warmup(record):
            self._warmup += 1
        elif is_ok(record):
            self._ok += 1
        self._metrics.add(record)
        self._throughput.add(record)
        self._errors.add(record)
        self._suspect.add(record)
        self._cache.add(record)
        self._lengths.add(record)
        if self._goodput is not None:
            self._goodput.add(record)

    def summary(self) -> StressSummary:
        """The summary of everything added so far."""
        table = self._metrics.table()
        return StressSummary(
            metrics=table,
            throughput=self._throughput.throughput(),
            errors=dict(self._errors.counts),
            total=self._total,
            ok=self._ok,
            failed=self._total - self._warmup - self._ok,
            warmup=self._warmup,
            goodput=self._goodput.goodput() if self._goodput is not None else None,
            slos=check_slos(table, self._slos),
            suspect_records=self._suspect.records,
            suspect=dict(self._suspect.counts),
            prompt_cache=self._cache.prompt_cache(),
            lengths=self._lengths.lengths(),
        )


def summarize_records(
    records: Iterable[Record], slos: Mapping[str, float] | None = None
) -> StressSummary:
    """Summarize a run held in memory (or any iterable of records)."""
    collector = RunCollector(slos)
    for record in records:
        collector.add(record)
    return collector.summary()


def summarize_file(
    path: str | Path,
    slos: Mapping[str, float] | None = None,
    chunk_size: int = 50_000,
) -> StressSummary:
    """Summarize a run's JSONL file, holding only one chunk and per-metric float arrays."""
    chunks = iter_records(path, chunk_size)
    return summarize_records((record for chunk in chunks for record in chunk), slos)


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True)
class Drift:
    """How a metric moved over a run, in the metric's unit, indexed by request order.

    Halves hold ``n // 2`` values each (the middle value of an odd ``n`` is in neither).
    ``relative_change`` is ``(second - first) / first``; ``cv`` is sample stddev / mean;
    ``slope_per_request`` is the least-squares slope against the request index. Fields are
    ``None`` when undefined (``n < 2``, or a zero denominator).
    """

    n: int
    mean: float | None
    first_half_mean: float | None
    second_half_mean: float | None
    relative_change: float | None
    cv: float | None
    slope_per_request: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


def drift(values: Iterable[float | None]) -> Drift:
    """Drift of ``values`` in request order; ``None`` and NaN are dropped before indexing."""
    arr = finite_array(values)
    n = int(arr.size)
    if n < 2:
        mean = float(arr[0]) if n == 1 else None
        return Drift(n, mean, None, None, None, None, None)
    half = n // 2
    first = float(arr[:half].mean())
    second = float(arr[n - half :].mean())
    mean = float(arr.mean())
    index = np.arange(n, dtype=np.float64)
    centered = index - index.mean()
    slope = float(np.dot(centered, arr - mean) / np.dot(centered, centered))
    return Drift(
        n=n,
        mean=mean,
        first_half_mean=first,
        second_half_mean=second,
        relative_change=(second - first) / first if first != 0 else None,
        cv=float(arr.std(ddof=1)) / mean if mean != 0 else None,
        slope_per_request=slope,
    )
