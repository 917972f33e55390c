"""pytest glue for the stress modes: run a mode, write its report, fail on SLO misses."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.settings import Settings
from pytest_llmserver.stress.modes import StressTester
from pytest_llmserver.stress.progress import ProgressLine, RollingMedian, should_show_progress
from pytest_llmserver.stress.report import write_stress_report
from pytest_llmserver.stress.results import TestStats
from pytest_llmserver.target import ServerRecord

ModeCall = Callable[[StressTester], Coroutine[Any, Any, TestStats]]


class StressSession:
    """Runs stress modes against the session's target and keeps what they reported."""

    def __init__(
        self,
        server: ServerRecord,
        model: str,
        settings: Settings,
        run_dir: Callable[[], Path],
        quiet: bool,
    ) -> None:
        self.server = server
        self.model = model
        self.settings = settings
        self._run_dir = run_dir
        self._quiet = quiet
        self.reports: list[tuple[TestStats, Path]] = []

    def run(self, mode_call: ModeCall, run_id: str) -> TestStats:
        """Run one mode, write ``stress-<mode>-<id>.md/.json``, then fail on SLOs or no success."""
        s = self.settings
        stream = sys.__stderr__ or sys.stderr
        progress = ProgressLine(stream, should_show_progress(stream, self._quiet))
        ttft = RollingMedian()
        counts = {"done": 0, "errors": 0}

        def on_record(record: dict[str, Any], in_flight: int) -> None:
            if record.get("warmup"):
                return
            counts["done"] += 1
            counts["errors"] += 0 if record.get("ok") else 1
            ttft.add(record.get("ttft_s"))
            progress.update(counts["done"], in_flight, counts["errors"], ttft.value(), run_id)

        tester = StressTester(
            self.server,
            self.model,
            max_tokens=s.max_tokens or 128,
            api_key=s.api_key,
            timeout_s=s.timeout_s,
            seed=s.seed,
            warmup=s.warmup,
            out_dir=self._run_dir(),
            slos=s.slos,
            on_record=on_record,
            run_id=run_id,
        )
        try:
            stats = asyncio.run(mode_call(tester))
        finally:
            progress.close()
        md_path, _ = write_stress_report(stats, self._run_dir())
        self.reports.append((stats, md_path))
        check(stats)
        return stats


def check(stats: TestStats) -> None:
    """Fail when no request succeeded or an SLO was missed, showing the measured values."""
    summary = stats.summary
    if summary.ok == 0 and summary.failed:
        errors = ", ".join(f"{k}: {v}" for k, v in summary.errors.items() if v)
        pytest.fail(f"all {summary.failed} requests failed ({errors})", pytrace=False)
    missed = [r for r in stats.slo_results if not r.passed]
    if missed:
        parts = [
            f"{r.name} measured {'n/a' if r.measured is None else f'{r.measured:.3f}'} s "
            f"> limit {r.limit:g} s"
            for r in missed
        ]
        pytest.fail("SLO missed: " + "; ".join(parts), pytrace=False)
