"""Service-level objectives: parsing ``--llm-slo`` text, checking SLOs against a run's
``MetricTable``, and goodput (the share of requests meeting every per-request limit)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_llmserver.stress.records import Record, gaps, is_ok, is_warmup, metric_value

if TYPE_CHECKING:
    from pytest_llmserver.stress.percentiles import MetricTable

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
            # numpy comes with the statistics; the options import this module
            from pytest_llmserver.stress.percentiles import min_samples

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


class GoodputCollector:
    """Counts good requests among records fed one at a time."""

    def __init__(self, slos: Mapping[str, float]) -> None:
        self.limits = per_request_limits(slos)
        self.requests = 0
        self.good = 0

    def _meets(self, record: Record) -> bool:
        for metric, limit in self.limits.items():
            if metric == "itl_s":
                record_gaps = gaps(record)
                if not record_gaps or max(record_gaps) > limit:
                    return False
            else:
                value = metric_value(record, metric)
                if value is None or value > limit:
                    return False
        return True

    def add(self, record: Record) -> None:
        if is_warmup(record):
            return
        self.requests += 1
        if is_ok(record) and self._meets(record):
            self.good += 1

    def goodput(self) -> Goodput:
        """The goodput of everything added so far."""
        share = self.good / self.requests if self.requests else None
        return Goodput(self.requests, self.good, share, dict(self.limits))


def goodput(records: Iterable[Record], slos: Mapping[str, float]) -> Goodput:
    """Goodput of ``records`` under ``slos`` (names as ``parse_slos`` returns them).

    Each SLO's limit becomes a per-request threshold on its metric ("ttft_p95:0.8" means each
    request's ``ttft_s <= 0.8``; for ``itl`` every gap of the request must be within it). A
    request is good when it succeeded and meets every threshold; failed requests and requests
    missing a limited value are not good. The denominator is every non-warm-up request.
    """
    collector = GoodputCollector(slos)
    for record in records:
        collector.add(record)
    return collector.goodput()
