"""Distributions of per-request metrics: ``Percentiles`` of one metric and the ``MetricTable``
of every metric of a run, built by a collector fed record by record.

A missing key, ``None`` and NaN all mean "not measured". Percentiles use numpy's linear
interpolation; ``stddev`` is the sample standard deviation (ddof=1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_llmserver.stress.records import Record, gaps, is_ok, is_warmup, metric_value

FloatArray = npt.NDArray[np.float64]

PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)
LOW_N_TAIL_SAMPLES = 10
"""A percentile pXX is flagged unless at least this many samples lie beyond it."""

SCALAR_METRICS: tuple[str, ...] = (
    "ttfb_s",
    "ttft_s",
    "ttfc_s",
    "e2e_s",
    "tpot_s",
    "decode_tps",
    "server_decode_tps",
    "server_prefill_tps",
    "queue_s",
)
"""Per-request scalar fields summarized by ``MetricTable`` (``itl_s`` is pooled separately)."""

_FLUSH_AT = 65_536


def min_samples(percent: int) -> int:
    """Fewest samples for which pXX has ``LOW_N_TAIL_SAMPLES`` samples beyond it."""
    return -(-LOW_N_TAIL_SAMPLES * 100 // (100 - percent))


@dataclass(frozen=True)
class Percentiles:
    """Distribution of one metric, in the metric's own unit.

    ``stddev`` is the sample standard deviation (ddof=1), ``None`` when ``n < 2``. Percentiles
    use numpy's ``method="linear"``. ``low_n`` names each percentile (``"p50"`` ...) resting on
    too few samples: pXX is flagged when fewer than 10 samples lie beyond it, i.e. when
    ``n < ceil(10 / (1 - XX/100))`` (p50 < 20, p90 < 100, p95 < 200, p99 < 1000).
    """

    n: int
    min: float
    max: float
    mean: float
    stddev: float | None
    p50: float
    p90: float
    p95: float
    p99: float
    low_n: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``low_n`` as a list in percentile order."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["low_n"] = [f"p{p}" for p in PERCENTILES if f"p{p}" in self.low_n]
        return out


def finite_array(values: Iterable[float | None]) -> FloatArray:
    """``values`` as a float array, ``None`` and NaN dropped (order kept)."""
    if isinstance(values, np.ndarray):
        arr = np.asarray(values, dtype=np.float64).ravel()
    else:
        arr = np.fromiter((math.nan if v is None else v for v in values), dtype=np.float64)
    return arr[~np.isnan(arr)]


def summarize_array(arr: FloatArray) -> Percentiles | None:
    """Summary of a NaN-free array; ``None`` when it is empty."""
    n = int(arr.size)
    if n == 0:
        return None
    p50, p90, p95, p99 = (float(v) for v in np.percentile(arr, PERCENTILES, method="linear"))
    return Percentiles(
        n=n,
        min=float(arr.min()),
        max=float(arr.max()),
        mean=float(arr.mean()),
        stddev=float(arr.std(ddof=1)) if n >= 2 else None,
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        low_n=frozenset(f"p{p}" for p in PERCENTILES if n < min_samples(p)),
    )


def summarize(values: Iterable[float | None]) -> Percentiles | None:
    """Summarize ``values``, ignoring ``None`` and NaN; ``None`` when nothing is left."""
    return summarize_array(finite_array(values))


# --------------------------------------------------------------------------- metric table


class _FloatColumn:
    """Append-only float column kept as numpy blocks (no per-value Python objects at rest)."""

    def __init__(self) -> None:
        self._blocks: list[FloatArray] = []
        self._pending: list[float] = []

    def append(self, value: float) -> None:
        self._pending.append(value)
        if len(self._pending) >= _FLUSH_AT:
            self._flush()

    def extend(self, values: list[float]) -> None:
        self._pending.extend(values)
        if len(self._pending) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._blocks.append(np.array(self._pending, dtype=np.float64))
            self._pending = []

    def array(self) -> FloatArray:
        self._flush()
        if not self._blocks:
            return np.empty(0, dtype=np.float64)
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0]


@dataclass(frozen=True)
class MetricTable:
    """Per-metric summaries over successful, non-warm-up requests (``None``: no samples).

    ``itl_s`` pools every inter-token gap of every request (its ``n`` counts gaps);
    ``itl_requests`` is how many requests contributed at least one gap.
    """

    ttfb_s: Percentiles | None = None
    ttft_s: Percentiles | None = None
    ttfc_s: Percentiles | None = None
    e2e_s: Percentiles | None = None
    itl_s: Percentiles | None = None
    itl_requests: int = 0
    tpot_s: Percentiles | None = None
    decode_tps: Percentiles | None = None
    server_decode_tps: Percentiles | None = None
    server_prefill_tps: Percentiles | None = None
    queue_s: Percentiles | None = None

    def metric(self, name: str) -> Percentiles | None:
        """The summary of record field ``name`` (e.g. ``"ttft_s"``)."""
        if name not in (*SCALAR_METRICS, "itl_s"):
            raise KeyError(name)
        summary: Percentiles | None = getattr(self, name)
        return summary

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: each metric's summary dict or ``None``, plus ``itl_requests``."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.to_dict() if isinstance(value, Percentiles) else value
        return out


class MetricCollector:
    """Builds a ``MetricTable`` from records fed one at a time."""

    def __init__(self) -> None:
        self._columns = {name: _FloatColumn() for name in (*SCALAR_METRICS, "itl_s")}
        self._itl_requests = 0

    def add(self, record: Record) -> None:
        if is_warmup(record) or not is_ok(record):
            return
        for name in SCALAR_METRICS:
            value = metric_value(record, name)
            if value is not None:
                self._columns[name].append(value)
        record_gaps = gaps(record)
        if record_gaps:
            self._itl_requests += 1
            self._columns["itl_s"].extend(record_gaps)

    def table(self) -> MetricTable:
        """The summaries of everything added so far."""
        summaries = {name: summarize_array(col.array()) for name, col in self._columns.items()}
        return MetricTable(itl_requests=self._itl_requests, **summaries)


def metric_table(records: Iterable[Record]) -> MetricTable:
    """Summaries of every metric over the successful, non-warm-up ``records``."""
    collector = MetricCollector()
    for record in records:
        collector.add(record)
    return collector.table()
