"""Capacity under SLO: the highest open-loop rate at which every SLO holds and goodput stays at
or above ``MIN_GOODPUT``, found by bracketing (doubling or halving from a start rate), then
bisection of the bracket; reported as the bracket's middle ± half its width.

The search itself is pure: it calls ``probe(rate)`` and reads the verdict; what a probe runs
is the caller's (``stress/modes/capacity.py`` runs one open-loop run per probe).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_llmserver.stress.slo import SLOResult
from pytest_llmserver.stress.stops import Stop

MIN_GOODPUT = 0.99
"""Share of the requests due in a probe that must succeed within every per-request limit."""


@dataclass(frozen=True)
class Probe:
    """One open-loop run at ``rate_per_s`` and its verdict. ``due``: requests the schedule
    held (sent or shed); ``good``: those that succeeded within every limit; ``reason``: why it
    failed, one line (empty when it passed)."""

    rate_per_s: float
    passed: bool
    due: int
    good: int
    reason: str = ""
    duration_s: float = 0.0
    slos: list[SLOResult] = field(default_factory=list)
    stop: Stop | None = None

    @property
    def goodput(self) -> float | None:
        """``good / due`` (None when nothing was due)."""
        return self.good / self.due if self.due else None

    def row(self) -> dict[str, Any]:
        """The probe as a report table row."""
        row: dict[str, Any] = {
            "rate_per_s": self.rate_per_s,
            "passed": self.passed,
            "due": self.due,
            "goodput": self.goodput,
        }
        row.update({r.name: r.measured for r in self.slos})
        row["reason"] = self.reason
        return row


def verdict(
    rate_per_s: float,
    slos: Sequence[SLOResult],
    due: int,
    good: int,
    *,
    stop: Stop | None = None,
    duration_s: float = 0.0,
) -> Probe:
    """Judge one probe: it passes when no stop fired, every SLO holds and the goodput is at
    least ``MIN_GOODPUT``; the first failed condition is its reason."""
    reason = ""
    share = good / due if due else 0.0
    missed = [r for r in slos if not r.passed]
    if stop is not None:
        reason = stop.reason
    elif due == 0:
        reason = "no request was due"
    elif missed:
        reason = "; ".join(_missed(r) for r in missed)
    elif share < MIN_GOODPUT:
        reason = f"goodput {share:.1%} of {due} requests < {MIN_GOODPUT:.0%}"
    return Probe(rate_per_s, not reason, due, good, reason, duration_s, list(slos), stop)


def _missed(result: SLOResult) -> str:
    measured = "n/a" if result.measured is None else f"{result.measured:.3g} s"
    return f"{result.name} {measured} > {result.limit:g} s"


@dataclass(frozen=True)
class Capacity:
    """The search's answer. ``low_per_s``: the highest rate that passed (0 when none did);
    ``high_per_s``: the lowest that failed (None when none did, so the capacity is at least
    ``low_per_s``). ``no_load``: the line saying the SLOs fail even at no load (no search)."""

    slos: dict[str, float]
    low_per_s: float
    high_per_s: float | None
    probes: list[Probe]
    no_load: str | None = None

    @property
    def rate_per_s(self) -> float | None:
        """The capacity: the middle of the bracket (``low_per_s`` without an upper end; None
        when the SLOs fail at no load)."""
        if self.no_load is not None:
            return None
        if self.high_per_s is None:
            return self.low_per_s
        return (self.low_per_s + self.high_per_s) / 2.0

    @property
    def plus_minus_per_s(self) -> float | None:
        """Half the final bracket's width (None without an upper end)."""
        if self.high_per_s is None or self.no_load is not None:
            return None
        return (self.high_per_s - self.low_per_s) / 2.0

    def line(self) -> str:
        """``sustains 3.3 req/s (±0.1 ...) with ttft_p95 <= 1 s, ...``: one line."""
        slos = ", ".join(f"{name} ≤ {limit:g} s" for name, limit in self.slos.items())
        if self.no_load is not None:
            return self.no_load
        rate, pm = self.rate_per_s or 0.0, self.plus_minus_per_s
        if pm is None:
            return (
                f"sustains at least {rate:.3g} req/s with {slos} and goodput ≥ "
                f"{MIN_GOODPUT:.0%} (no probed rate failed; {len(self.probes)} probes)"
            )
        return (
            f"sustains {rate:.3g} req/s (±{pm:.2g}: half the final bisection bracket "
            f"[{self.low_per_s:.3g}, {self.high_per_s:.3g}) req/s, pass to fail) with {slos} "
            f"and goodput ≥ {MIN_GOODPUT:.0%} ({len(self.probes)} probes)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the figures, the line and the probes."""
        return {
            "rate_per_s": self.rate_per_s,
            "plus_minus_per_s": self.plus_minus_per_s,
            "low_per_s": self.low_per_s,
            "high_per_s": self.high_per_s,
            "slos": dict(self.slos),
            "no_load": self.no_load,
            "line": self.line(),
            "probes": [_probe_dict(p) for p in self.probes],
        }


def _probe_dict(probe: Probe) -> dict[str, Any]:
    data = asdict(probe)
    data["goodput"] = probe.goodput
    return data


ProbeFn = Callable[[float], Awaitable[Probe]]


async def search_capacity(
    probe: ProbeFn,
    start_per_s: float,
    slos: Mapping[str, float],
    *,
    max_probes: int = 12,
    rel_tol: float = 0.05,
    max_rate_per_s: float = 10_000.0,
) -> Capacity:
    """Bracket the capacity from ``start_per_s`` (doubling while probes pass, halving while
    they fail), then bisect until the bracket is within ``rel_tol`` of its upper end or
    ``max_probes`` probes ran. Rates stop doubling at ``max_rate_per_s``."""
    if not start_per_s > 0:
        raise ValueError(f"the start rate must be > 0, got {start_per_s}")
    if max_probes < 1 or not 0 < rel_tol < 1:
        raise ValueError("max_probes must be >= 1 and rel_tol in (0, 1)")
    probes: list[Probe] = []
    low, high = 0.0, None
    rate = min(start_per_s, max_rate_per_s)

    async def run(rate: float) -> bool:
        result = await probe(rate)
        probes.append(result)
        return result.passed

    while len(probes) < max_probes:  # bracket
        if await run(rate):
            low = rate
            if high is not None or rate >= max_rate_per_s:
                break
            rate = min(rate * 2.0, max_rate_per_s)
        else:
            high = rate
            if low > 0:
                break
            rate /= 2.0
    while high is not None and low > 0 and len(probes) < max_probes:  # bisect
        if high - low <= rel_tol * high:
            break
        middle = (low + high) / 2.0
        if await run(middle):
            low = middle
        else:
            high = middle
    return Capacity(dict(slos), low, high, probes)


def no_load_line(slos: Sequence[SLOResult], concurrency: int = 1) -> str | None:
    """The line saying which SLOs fail at no load (requests one at a time), or None."""
    missed = [r for r in slos if not r.passed]
    if not missed:
        return None
    return (
        f"SLO missed at no load (concurrency {concurrency}, one request at a time): "
        f"{'; '.join(_missed(r) for r in missed)}: no rate can meet it, no capacity to search"
    )
