"""The regression gate of one run: it loads each model's baseline once, compares stress tests
and tool benches with it, and keeps the lines to show, the regressions and the model updates."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmserver.gate.baseline import (
    DEFAULT_DIR,
    Baseline,
    BaselineError,
    ToolbenchComparison,
    baseline_file,
    compare_stress,
    compare_toolbench,
    comparison_lines,
    load_baseline,
    model_update,
)
from pytest_llmserver.gate.capacity import CapacityComparison, compare_capacity
from pytest_llmserver.gate.compare import MetricComparison, Thresholds
from pytest_llmserver.gate.fingerprint import ModelFingerprint


class Gate:
    """Compares a run with ``baseline`` (``auto``, a directory or a file; None: no comparison).

    Relative locations are taken from ``base_dir`` (where pytest was invoked); an unusable
    baseline is reported once through ``report_error`` and then treated as absent.
    """

    def __init__(
        self,
        baseline: str | None,
        thresholds: Thresholds,
        base_dir: Path,
        report_error: Callable[[str], None],
    ) -> None:
        self.wanted = baseline
        self.thresholds = thresholds
        self._base_dir = base_dir
        self._report_error = report_error
        self._loaded: dict[str, Baseline | None] = {}
        self.comparison_lines: list[str] = []
        self.regressions: list[str] = []
        self.model_updates: list[str] = []

    def location(self, value: str) -> Path:
        """Where ``auto`` or a relative baseline path points."""
        path = DEFAULT_DIR if value == "auto" else Path(value)
        return path if path.is_absolute() else self._base_dir / path

    def baseline(self, fingerprint: ModelFingerprint) -> Baseline | None:
        """The baseline for this model, if one was asked for and it loads."""
        if self.wanted is None:
            return None
        if fingerprint.key not in self._loaded:
            found: Baseline | None = None
            try:
                found = load_baseline(baseline_file(self.location(self.wanted), fingerprint))
            except BaselineError as exc:
                self._report_error(str(exc))
            if found is not None:
                update = model_update(found.fingerprint, fingerprint)
                if update:
                    self.model_updates.append(update)
            self._loaded[fingerprint.key] = found
        return self._loaded[fingerprint.key]

    def compare_stress(
        self,
        fingerprint: ModelFingerprint,
        mode: str,
        run_id: str,
        samples: Mapping[str, Sequence[float]],
    ) -> list[MetricComparison]:
        """A stress test's metrics against the baseline's same test (``[]`` without one)."""
        baseline = self.baseline(fingerprint)
        if baseline is None:
            return []
        comparisons = compare_stress(baseline, mode, run_id, samples, self.thresholds)
        self._note_stress(f"{mode} {run_id}", comparisons)
        return comparisons

    def compare_capacity(
        self, fingerprint: ModelFingerprint, run_id: str, capacity: Mapping[str, Any]
    ) -> CapacityComparison | None:
        """A capacity search's figure against the baseline's same test (None without one),
        noted like the stress metrics."""
        baseline = self.baseline(fingerprint)
        entry = None if baseline is None else baseline.stress.get(("capacity", run_id))
        if entry is None or not isinstance(entry.get("capacity"), Mapping):
            return None
        comparison = compare_capacity(entry["capacity"], capacity, self.thresholds.relative)
        if comparison is not None:
            line = f"capacity {run_id}: {comparison.line()}"
            target = (
                self.regressions if comparison.status == "regression" else self.comparison_lines
            )
            target.append(line)
        return comparison

    def _note_stress(self, label: str, comparisons: Sequence[MetricComparison]) -> None:
        for comparison in comparisons:
            if comparison.status == "improvement":
                self.comparison_lines.append(f"{label}: {comparison.line()}")
            if comparison.status == "regression":
                self.regressions.append(f"{label}: {comparison.line()}")
        counts = [
            f"{sum(c.status == status for c in comparisons)} {status}"
            for status in ("unchanged", "insufficient")
            if any(c.status == status for c in comparisons)
        ]
        if counts:
            self.comparison_lines.append(f"{label}: {', '.join(counts)} metric(s)")

    def compare_toolbench(
        self, fingerprint: ModelFingerprint, outcomes: Mapping[str, Mapping[str, Any]]
    ) -> ToolbenchComparison | None:
        """Per-task outcomes against the baseline (None without one); not yet noted, as an
        xdist worker's partial run is compared again, whole, on the controller."""
        baseline = self.baseline(fingerprint)
        if baseline is None:
            return None
        return compare_toolbench(baseline, outcomes, self.thresholds.alpha, self.thresholds)

    def note_toolbench(self, model: str, comparison: ToolbenchComparison) -> None:
        """Add a tool-bench comparison to the lines and the regressions."""
        label = f"tool bench [{model}]"
        regressed = comparison.pass_rate.status == "regression"
        rate_line = comparison.pass_rate.line()
        self.comparison_lines += [
            f"{label}: {line}"
            for line in comparison_lines(comparison)
            if not regressed or line != rate_line
        ]
        if regressed:
            self.regressions.append(f"{label}: {comparison.pass_rate.line()}")
        if comparison.transitions.new_failures:
            failures = ", ".join(comparison.transitions.new_failures)
            self.regressions.append(f"{label} new failures: {failures}")

    def summary(self) -> dict[str, Any] | None:
        """The ``comparison`` section of ``results.json`` (None when nothing was compared)."""
        if self.wanted is None:
            return None
        return {
            "baseline": self.wanted,
            "model_updated": "; ".join(self.model_updates) or None,
            "regressions": self.regressions,
            "lines": self.comparison_lines,
        }

    def export(self) -> dict[str, list[str]]:
        """What an xdist worker hands on."""
        return {
            "comparison_lines": self.comparison_lines,
            "regressions": self.regressions,
            "model_updates": self.model_updates,
        }

    def absorb(self, exported: Mapping[str, Any]) -> None:
        """Take in a worker's ``export`` (lines already here are not repeated)."""
        for name, mine in self.export().items():
            mine += [line for line in exported.get(name) or [] if line not in mine]
