"""Statistics over stress-run request records: percentiles, throughput, SLOs, goodput, drift.

A record is one flat JSON-ready dict per request, as the stress engine writes it. Keys read here:
``ok``, ``error_class``, ``warmup``, ``scheduled_s``, ``sent_s``, ``end_s`` (seconds from the run
start), ``queue_s``, ``ttfb_s``, ``ttft_s``, ``ttfc_s``, ``e2e_s``, ``itl_s`` (list of gaps),
``tpot_s``, ``decode_tps``, ``server_decode_tps``, ``server_prefill_tps``, ``output_tokens``.
A missing key, ``None`` and NaN all mean "not measured".

Every aggregate is built by small accumulators fed record by record, so the in-memory functions
and ``summarize_file`` (which reads a JSONL file in chunks) share one code path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_llmserver.client import ERROR_CLASSES

Record = Mapping[str, Any]
FloatArray = npt.NDArray[np.float64]

UNKNOWN_ERROR_CLASS = "unknown"
"""Class counted for a failed record whose ``error_class`` is missing."""

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

SLO_METRICS: dict[str, str] = {
    "ttfb": "ttfb_s",
    "ttft": "ttft_s",
    "ttfc": "ttfc_s",
    "e2e": "e2e_s",
    "itl": "itl_s",
    "tpot": "tpot_s",
    "queue": "queue_s",
}
"""SLO metric names and the record field each one limits (all in seconds, upper bounds)."""

SLO_STATS: tuple[str, ...] = ("p50", "p90", "p95", "p99", "mean", "max")

_SLO_FORMS = (
    "expected METRIC_STAT:LIMIT (LIMIT in seconds, >= 0), entries separated by commas, "
    f"with METRIC one of {', '.join(SLO_METRICS)} (an '_s' suffix is allowed) "
    f"and STAT one of {', '.join(SLO_STATS)}; e.g. 'ttft_p95:0.8,e2e_p99:5'"
)

_FLUSH_AT = 65_536


def min_samples(percent: int) -> int:
    """Fewest samples for which pXX has ``LOW_N_TAIL_SAMPLES`` samples beyond it."""
    return -(-LOW_N_TAIL_SAMPLES * 100 // (100 - percent))


# --------------------------------------------------------------------------- summaries


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


def _as_array(values: Iterable[float | None]) -> FloatArray:
    if isinstance(values, np.ndarray):
        arr = np.asarray(values, dtype=np.float64).ravel()
    else:
        arr = np.fromiter((math.nan if v is None else v for v in values), dtype=np.float64)
    return arr[~np.isnan(arr)]


def _summarize_array(arr: FloatArray) -> Percentiles | None:
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
    return _summarize_array(_as_array(values))


# --------------------------------------------------------------------------- record access


def _num(record: Record, key: str) -> float | None:
    """The record's number under ``key``; ``None`` when missing, ``None`` or NaN."""
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"record field {key!r} is not a number: {value!r}")
    number = float(value)
    return None if math.isnan(number) else number


def _queue_s(record: Record) -> float | None:
    queue = _num(record, "queue_s")
    if queue is not None:
        return queue
    sent, scheduled = _num(record, "sent_s"), _num(record, "scheduled_s")
    return sent - scheduled if sent is not None and scheduled is not None else None


def _value(record: Record, metric: str) -> float | None:
    return _queue_s(record) if metric == "queue_s" else _num(record, metric)


def _gaps(record: Record) -> list[float]:
    gaps = record.get("itl_s") or []
    if not isinstance(gaps, list):
        raise ValueError(f"record field 'itl_s' is not a list: {gaps!r}")
    out: list[float] = []
    for gap in gaps:
        if gap is None:
            continue
        if isinstance(gap, bool) or not isinstance(gap, (int, float)):
            raise ValueError(f"record field 'itl_s' holds a non-number: {gap!r}")
        if not math.isnan(gap):
            out.append(float(gap))
    return out


def _is_warmup(record: Record) -> bool:
    return bool(record.get("warmup", False))


def _is_ok(record: Record) -> bool:
    return record.get("ok") is True


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


class _MetricCollector:
    def __init__(self) -> None:
        self._columns = {name: _FloatColumn() for name in (*SCALAR_METRICS, "itl_s")}
        self._itl_requests = 0

    def add(self, record: Record) -> None:
        if _is_warmup(record) or not _is_ok(record):
            return
        for name in SCALAR_METRICS:
            value = _value(record, name)
            if value is not None:
                self._columns[name].append(value)
        gaps = _gaps(record)
        if gaps:
            self._itl_requests += 1
            self._columns["itl_s"].extend(gaps)

    def table(self) -> MetricTable:
        summaries = {name: _summarize_array(col.array()) for name, col in self._columns.items()}
        return MetricTable(itl_requests=self._itl_requests, **summaries)


def metric_table(records: Iterable[Record]) -> MetricTable:
    """Summaries of every metric over the successful, non-warm-up ``records``."""
    collector = _MetricCollector()
    for record in records:
        collector.add(record)
    return collector.table()


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


class _ThroughputCollector:
    def __init__(self) -> None:
        self._first_send_s: float | None = None
        self._last_end_s: float | None = None
        self._requests = 0
        self._output_tokens = 0
        self._errors = 0

    def add(self, record: Record) -> None:
        if _is_warmup(record):
            return
        sent, end = _num(record, "sent_s"), _num(record, "end_s")
        if sent is not None and (self._first_send_s is None or sent < self._first_send_s):
            self._first_send_s = sent
        if end is not None and (self._last_end_s is None or end > self._last_end_s):
            self._last_end_s = end
        if _is_ok(record):
            self._requests += 1
            self._output_tokens += int(_num(record, "output_tokens") or 0)
        else:
            self._errors += 1

    def throughput(self) -> Throughput:
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
    collector = _ThroughputCollector()
    for record in records:
        collector.add(record)
    return collector.throughput()


# --------------------------------------------------------------------------- errors


class _ErrorCollector:
    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(ERROR_CLASSES, 0)

    def add(self, record: Record) -> None:
        if _is_warmup(record) or _is_ok(record):
            return
        name = record.get("error_class") or UNKNOWN_ERROR_CLASS
        self.counts[str(name)] = self.counts.get(str(name), 0) + 1


def error_counts(records: Iterable[Record]) -> dict[str, int]:
    """Failed non-warm-up requests by ``error_class``, zero-filled for ``ERROR_CLASSES``.

    A failure without an ``error_class`` is counted as ``"unknown"``; other classes are added
    as they appear.
    """
    collector = _ErrorCollector()
    for record in records:
        collector.add(record)
    return collector.counts


# --------------------------------------------------------------------------- SLOs and goodput


def parse_slos(text: str) -> dict[str, float]:
    """Parse ``"ttft_p95:0.8,e2e_p99:5"`` into ``{"ttft_p95": 0.8, "e2e_p99": 5.0}``.

    Names come back canonical (``ttft_s_p95`` becomes ``ttft_p95``); a blank text means no
    SLOs. Raises ``ValueError`` naming the bad entry and the accepted forms.
    """
    slos: dict[str, float] = {}
    if not text.strip():
        return slos
    for index, raw in enumerate(text.split(","), start=1):
        part = raw.strip()

        def bad(reason: str, part: str = part, index: int = index) -> ValueError:
            return ValueError(f"bad SLO entry {index} {part!r}: {reason}; {_SLO_FORMS}")

        if not part:
            raise bad("empty entry")
        name, sep, limit_text = part.partition(":")
        name, limit_text = name.strip(), limit_text.strip()
        if not sep:
            raise bad("missing ':LIMIT'")
        metric, underscore, stat = name.rpartition("_")
        if not underscore or not metric:
            raise bad(f"missing statistic in {name!r}")
        if stat not in SLO_STATS:
            raise bad(f"unknown statistic {stat!r}")
        short = metric.removesuffix("_s")
        if short not in SLO_METRICS:
            raise bad(f"unknown metric {metric!r}")
        try:
            limit = float(limit_text)
        except ValueError:
            raise bad(f"limit {limit_text!r} is not a number") from None
        if not math.isfinite(limit) or limit < 0:
            raise bad(f"limit {limit_text!r} must be a finite number >= 0")
        canonical = f"{short}_{stat}"
        if canonical in slos:
            raise bad(f"{canonical!r} given twice")
        slos[canonical] = limit
    return slos


def _split_slo(name: str) -> tuple[str, str]:
    """``"ttft_p95"`` -> (``"ttft_s"``, ``"p95"``); ``ValueError`` on a non-canonical name."""
    short, _, stat = name.rpartition("_")
    if short not in SLO_METRICS or stat not in SLO_STATS:
        raise ValueError(f"unknown SLO name {name!r}; {_SLO_FORMS}")
    return SLO_METRICS[short], stat


@dataclass(frozen=True)
class SLOResult:
    """One SLO checked against a ``MetricTable``: passed when ``measured <= limit``."""

    name: str
    limit: float
    measured: float | None
    passed: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


def check_slos(table: MetricTable, slos: Mapping[str, float]) -> list[SLOResult]:
    """Check each SLO (as ``parse_slos`` returns them) against ``table``, in ``slos`` order.

    A metric without samples fails with ``measured=None``; a percentile flagged in ``low_n``
    is checked as usual and noted.
    """
    results: list[SLOResult] = []
    for name, limit in slos.items():
        metric, stat = _split_slo(name)
        summary = table.metric(metric)
        if summary is None:
            results.append(SLOResult(name, limit, None, False, f"no samples for {metric}"))
            continue
        measured = float(getattr(summary, stat))
        note = ""
        if stat in summary.low_n:
            needed = min_samples(int(stat[1:]))
            note = f"{stat} rests on {summary.n} samples (needs >= {needed})"
        results.append(SLOResult(name, limit, measured, measured <= limit, note))
    return results


def per_request_limits(slos: Mapping[str, float]) -> dict[str, float]:
    """Per-request thresholds by record field: each SLO's limit, the strictest per metric."""
    limits: dict[str, float] = {}
    for name, limit in slos.items():
        metric, _ = _split_slo(name)
        limits[metric] = min(limit, limits.get(metric, math.inf))
    return limits


@dataclass(frozen=True)
class Goodput:
    """Share of all non-warm-up requests that succeeded and met every per-request limit.

    ``share`` is ``good / requests`` (``None`` when there are no requests).
    """

    requests: int
    good: int
    share: float | None
    limits: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


class _GoodputCollector:
    def __init__(self, slos: Mapping[str, float]) -> None:
        self.limits = per_request_limits(slos)
        self.requests = 0
        self.good = 0

    def _meets(self, record: Record) -> bool:
        for metric, limit in self.limits.items():
            if metric == "itl_s":
                gaps = _gaps(record)
                if not gaps or max(gaps) > limit:
                    return False
            else:
                value = _value(record, metric)
                if value is None or value > limit:
                    return False
        return True

    def add(self, record: Record) -> None:
        if _is_warmup(record):
            return
        self.requests += 1
        if _is_ok(record) and self._meets(record):
            self.good += 1

    def goodput(self) -> Goodput:
        share = self.good / self.requests if self.requests else None
        return Goodput(self.requests, self.good, share, dict(self.limits))


def goodput(records: Iterable[Record], slos: Mapping[str, float]) -> Goodput:
    """Goodput of ``records`` under ``slos`` (names as ``parse_slos`` returns them).

    Each SLO's limit becomes a per-request threshold on its metric ("ttft_p95:0.8" means each
    request's ``ttft_s <= 0.8``; for ``itl`` every gap of the request must be within it). A
    request is good when it succeeded and meets every threshold; failed requests and requests
    missing a limited value are not good. The denominator is every non-warm-up request.
    """
    collector = _GoodputCollector(slos)
    for record in records:
        collector.add(record)
    return collector.goodput()


# --------------------------------------------------------------------------- whole runs


@dataclass(frozen=True)
class StressSummary:
    """Everything computed over one run's records.

    ``total`` counts every record, ``warmup`` the warm-up ones; ``ok`` and ``failed`` count
    the non-warm-up rest (``total == warmup + ok + failed``). ``goodput`` and ``slos`` are set
    only when SLOs were given.
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
        }


class _RunCollector:
    def __init__(self, slos: Mapping[str, float] | None) -> None:
        self._slos = dict(slos or {})
        self._metrics = _MetricCollector()
        self._throughput = _ThroughputCollector()
        self._errors = _ErrorCollector()
        self._goodput = _GoodputCollector(self._slos) if self._slos else None
        self._total = self._warmup = self._ok = 0

    def add(self, record: Record) -> None:
        self._total += 1
        if _is_warmup(record):
            self._warmup += 1
        elif _is_ok(record):
            self._ok += 1
        self._metrics.add(record)
        self._throughput.add(record)
        self._errors.add(record)
        if self._goodput is not None:
            self._goodput.add(record)

    def summary(self) -> StressSummary:
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
        )


def summarize_records(
    records: Iterable[Record], slos: Mapping[str, float] | None = None
) -> StressSummary:
    """Summarize a run held in memory (or any iterable of records)."""
    collector = _RunCollector(slos)
    for record in records:
        collector.add(record)
    return collector.summary()


def iter_records(path: str | Path, chunk_size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
    """Yield the JSONL file's records in lists of at most ``chunk_size``; blank lines skipped.

    A line that is not a JSON object raises ``ValueError`` naming the file and line number.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    chunk: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                kind = type(record).__name__
                raise ValueError(f"{path}:{lineno}: expected a JSON object, got {kind}")
            chunk.append(record)
            if len(chunk) >= chunk_size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def summarize_file(
    path: str | Path,
    slos: Mapping[str, float] | None = None,
    chunk_size: int = 50_000,
) -> StressSummary:
    """Summarize a run's JSONL file, holding only one chunk and per-metric float arrays."""
    collector = _RunCollector(slos)
    for chunk in iter_records(path, chunk_size):
        for record in chunk:
            collector.add(record)
    return collector.summary()


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
    arr = _as_array(values)
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
