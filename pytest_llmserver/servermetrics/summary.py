"""One run's summary from the server's own figures: gauges (mean, max), counter deltas with
resets handled, histogram deltas turned into percentiles by bucket interpolation, and the
client's figures from the records beside them."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from pytest_llmserver.servermetrics.families import Family, family_named
from pytest_llmserver.servermetrics.series import Endpoint, Sample

QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)


@dataclass
class Gauge:
    """A gauge over the run: its sample name, samples seen, mean and max."""

    name: str
    n: int
    mean: float
    max: float


@dataclass
class Delta:
    """A counter's increase over the run; ``resets`` times it went down (restarted from 0)."""

    name: str
    delta: float
    resets: int = 0


@dataclass
class Latency:
    """One latency metric: the server's histogram percentiles (seconds, by bucket
    interpolation over the run's delta) and ours from the records."""

    metric: str
    histogram: str
    server_n: int
    server: dict[str, float | None]
    client_n: int
    client: dict[str, float | None]


@dataclass
class EndpointSummary:
    """What one Prometheus endpoint said about the run."""

    url: str
    family: str
    scrapes: int
    failed: int
    span_s: float | None
    gauges: dict[str, Gauge] = field(default_factory=dict)
    counters: dict[str, Delta] = field(default_factory=dict)
    latency: list[Latency] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rate(self, counter: str) -> float | None:
        """``counter``'s delta per second over the scraped span."""
        delta = self.counters.get(counter)
        if delta is None or not self.span_s:
            return None
        return delta.delta / self.span_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def reset_aware_delta(values: Sequence[float]) -> tuple[float, int]:
    """Increase of a counter over ``values`` (in time order) and how often it reset: a drop is
    a restart from 0, so the new value is all increase."""
    total, resets = 0.0, 0
    for before, after in pairwise(values):
        if after < before:
            resets += 1
            total += after
        else:
            total += after - before
    return total, resets


def bucket_quantile(buckets: Mapping[str, float], q: float) -> float | None:
    """The ``q`` quantile of a cumulative histogram ``{upper bound: count}`` by linear
    interpolation inside the bucket holding it (from 0 for the first); in the ``+Inf``
    bucket: the highest finite bound. ``None`` without observations."""
    bounds = sorted((math.inf if le == "+Inf" else float(le), c) for le, c in buckets.items())
    if not bounds or bounds[-1][1] <= 0:
        return None
    rank = q * bounds[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in bounds:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count <= below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return None


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ``values`` by linear interpolation between order statistics."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and p99 of ``values``."""
    return {f"p{round(q * 100)}": quantile(values, q) for q in QUANTILES}


def _first_present(samples: Sequence[Sample], names: Sequence[str]) -> str | None:
    for name in names:
        if any(s.scrape is not None and name in s.scrape.values for s in samples):
            return name
    return None


def _series_name(
    samples: Sequence[Sample], family: Family, key: str, notes: list[str]
) -> str | None:
    """The first of the family's names for ``key`` the samples hold; a note when none (and the
    family has names for it)."""
    names: tuple[str, ...] = getattr(family, key)
    name = _first_present(samples, names)
    if name is None and names:
        notes.append(f"no {key} series ({', '.join(names)})")
    return name


def _values(samples: Sequence[Sample], name: str) -> list[float]:
    return [s.scrape.values[name] for s in samples if s.scrape and name in s.scrape.values]


def summarize_endpoint(
    endpoint: Endpoint, samples: Sequence[Sample], records: Sequence[Mapping[str, Any]]
) -> EndpointSummary:
    """Summary of one Prometheus endpoint's samples against the run's records."""
    family = family_named(endpoint.family)
    good = [s for s in samples if s.scrape is not None]
    span = good[-1].t_perf_s - good[0].t_perf_s if len(good) > 1 else None
    summary = EndpointSummary(endpoint.url, family.name, len(good), len(samples) - len(good), span)
    if len(good) < 2:
        summary.notes.append(f"{len(good)} good scrape(s): no delta over the run")
    for key in ("running", "waiting", "kv_use"):
        name = _series_name(good, family, key, summary.notes)
        if name is None:
            continue
        values = _values(good, name)
        summary.gauges[key] = Gauge(name, len(values), sum(values) / len(values), max(values))
    for key in ("preemptions", "prompt_tokens", "cached_prompt_tokens", "generated_tokens"):
        name = _series_name(good, family, key, summary.notes)
        if name is None:
            continue
        delta, resets = reset_aware_delta(_values(good, name))
        summary.counters[key] = Delta(name, delta, resets)
        if resets:
            summary.notes.append(f"{name} reset {resets} time(s); increases summed across resets")
    summary.latency = _latencies(family, good, records, summary.notes)
    return summary


def _histogram_delta(samples: Sequence[Sample], name: str) -> dict[str, float] | None:
    series = [s.scrape.buckets[name] for s in samples if s.scrape and name in s.scrape.buckets]
    if len(series) < 2:
        return None
    bounds = set(series[0]).intersection(*series[1:])
    return {le: reset_aware_delta([b[le] for b in series])[0] for le in bounds}


CLIENT_METRICS: dict[str, Callable[[Mapping[str, Any]], list[float]]] = {
    # No queue_s: the server's queue time has no client counterpart (ours is the wait
    # before sending, behind max-in-flight).
    "ttft_s": lambda r: _one(r, "ttft_s"),
    "e2e_s": lambda r: _one(r, "e2e_s"),
    "itl_s": lambda r: [g for g in r.get("itl_s") or [] if _number(g)],
}


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _one(record: Mapping[str, Any], key: str) -> list[float]:
    value = record.get(key)
    return [float(value)] if isinstance(value, (int, float)) and _number(value) else []


def _latencies(
    family: Family,
    samples: Sequence[Sample],
    records: Sequence[Mapping[str, Any]],
    notes: list[str],
) -> list[Latency]:
    rows: list[Latency] = []
    ok = [r for r in records if r.get("ok") is True]
    for metric, names in family.histograms:
        name = next(
            (n for n in names if any(s.scrape and n in s.scrape.buckets for s in samples)), None
        )
        if name is None:
            continue
        delta = _histogram_delta(samples, name)
        if delta is None:
            notes.append(f"{name}: fewer than 2 scrapes with it")
            continue
        total = max(delta.values(), default=0.0)
        measure = CLIENT_METRICS.get(metric)
        client = [v for r in ok for v in measure(r)] if measure is not None else []
        rows.append(
            Latency(
                metric,
                name,
                round(total),
                {f"p{round(q * 100)}": bucket_quantile(delta, q) for q in QUANTILES},
                len(client),
                percentiles(client),
            )
        )
    return rows


def gauge_points(
    endpoint: Endpoint, samples: Sequence[Sample]
) -> dict[str, tuple[str, list[tuple[float, float]]]]:
    """For charts: each gauge of ``endpoint``'s family (``running``, ``waiting``, ``kv_use``)
    as (sample name, [(t_s, value)]) over the aligned samples that have it."""
    family = family_named(endpoint.family)
    good = [s for s in samples if s.scrape is not None and s.t_s is not None]
    out: dict[str, tuple[str, list[tuple[float, float]]]] = {}
    for key in ("running", "waiting", "kv_use"):
        name = _first_present(good, getattr(family, key))
        if name is None:
            continue
        points = [
            (s.t_s, s.scrape.values[name])
            for s in good
            if s.t_s is not None and s.scrape is not None and name in s.scrape.values
        ]
        out[key] = (name, points)
    return out
