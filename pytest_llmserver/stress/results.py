"""``TestStats``: what one stress-mode run produced (the aggregate; records are on disk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmserver.stress.stats import SLOResult, StressSummary

CLIENT_BOUND_LAG_P99_S = 0.010
"""Event-loop lag p99 above this means the client itself distorts the timings."""


@dataclass
class TestStats:
    """One mode's run: parameters (seed included), summary, loop lag, mode-specific tables;
    ``t0_unix_s`` is the wall-clock time of the measurement origin (``sent_s`` = 0)."""

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

    @property
    def client_bound(self) -> bool:
        """True when the client's own event loop lagged enough to inflate timings."""
        return self.loop_lag_p99_s is not None and self.loop_lag_p99_s > CLIENT_BOUND_LAG_P99_S

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
        }
