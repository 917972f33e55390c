"""The run as a whole: its directory, log, ``results.json`` / ``summary.md``, baselines and the
regression gate. Plain Python; the pytest hooks call it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmserver.report.baseline import (
    DEFAULT_DIR,
    Baseline,
    BaselineError,
    ToolbenchComparison,
    baseline_document,
    baseline_file,
    compare_stress,
    compare_toolbench,
    comparison_lines,
    load_baseline,
    model_update,
    save_baseline,
)
from pytest_llmserver.report.charts import Chart, sweep_chart
from pytest_llmserver.report.compare import MetricComparison, Thresholds
from pytest_llmserver.report.results import RunResults, write_results
from pytest_llmserver.report.runlog import close_logger, log_test_summary, setup_logger
from pytest_llmserver.settings import Settings
from pytest_llmserver.stress.results import TestStats
from pytest_llmserver.target import ModelFingerprint, ServerRecord
from pytest_llmserver.toolbench.runner import ToolbenchRun


def relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when inside it, POSIX style; else as given."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def task_outcomes(run: ToolbenchRun) -> dict[str, dict[str, Any]]:
    """``{task_id: {passed_all, passes, trials, tier, reason}}`` of a tool-bench run."""
    return {
        task_id: {
            "passed_all": result.passed_all,
            "passes": sum(score.passed for _, score in result.trials),
            "trials": len(result.trials),
            "tier": result.task.tier,
            "reason": result.reason,
        }
        for task_id, result in run.results.items()
    }


class RunRecorder:
    """Collects what the session's tests produced and writes the run's files at the end."""

    def __init__(
        self,
        settings: Settings,
        run_dir: Callable[[], Path],
        plugin_version: str,
        base_dir: Path,
    ) -> None:
        self.settings = settings
        self._run_dir = run_dir
        self._base_dir = base_dir
        self.results = RunResults(
            run_id="", plugin_version=plugin_version, settings=settings.public_dict()
        )
        self.thresholds = Thresholds(
            relative=settings.regression_threshold, floor_s=settings.noise_floor_s
        )
        self._logger: logging.Logger | None = None
        self._baselines: dict[str, Baseline | None] = {}
        self._samples: dict[tuple[str, str, str], dict[str, list[float]]] = {}
        self._fingerprints: dict[str, ModelFingerprint] = {}
        self.comparison_lines: list[str] = []
        self.regressions: list[str] = []
        self.model_updates: list[str] = []
        self.saved_baselines: list[Path] = []

    @property
    def run_dir(self) -> Path:
        """The run directory (made on first use)."""
        path = self._run_dir()
        self.results.run_id = path.name
        return path

    @property
    def logger(self) -> logging.Logger:
        """The run log (``run.log`` in the run directory), API key redacted."""
        if self._logger is None:
            secrets = [self.settings.api_key] if self.settings.api_key else []
            self._logger = setup_logger(
                f"pytest_llmserver.run.{id(self)}", self.run_dir, secrets=secrets
            )
        return self._logger

    # --- targets and baselines -------------------------------------------------------------

    def target(self, server: ServerRecord, model: str) -> ModelFingerprint:
        """Record the (server, model) pair; its model fingerprint."""
        fingerprint = ModelFingerprint.of(server, model)
        self._fingerprints[fingerprint.key] = fingerprint
        self.results.add_target(
            {
                "url": server.url,
                "kind": server.kind,
                "type": server.type,
                "model": model,
                "fingerprint": fingerprint.to_dict(),
            }
        )
        return fingerprint

    def baseline(self, fingerprint: ModelFingerprint) -> Baseline | None:
        """The baseline for this model, if ``--llm-baseline`` asked for one and it loads."""
        if self.settings.baseline is None:
            return None
        if fingerprint.key not in self._baselines:
            location = self._location(self.settings.baseline)
            found: Baseline | None = None
            try:
                found = load_baseline(baseline_file(location, fingerprint))
            except BaselineError as exc:
                self.results.errors.append(str(exc))
                self.logger.error("%s", exc)
            if found is not None:
                update = model_update(found.fingerprint, fingerprint)
                if update:
                    self.model_updates.append(update)
            self._baselines[fingerprint.key] = found
        return self._baselines[fingerprint.key]

    def _location(self, value: str) -> Path:
        path = DEFAULT_DIR if value == "auto" else Path(value)
        return path if path.is_absolute() else self._base_dir / path

    # --- entries ---------------------------------------------------------------------------

    def compare_stress(
        self, fingerprint: ModelFingerprint, stats: TestStats, samples: Mapping[str, list[float]]
    ) -> list[MetricComparison]:
        """Compare a stress test with the baseline's same test (``[]`` without one)."""
        baseline = self.baseline(fingerprint)
        if baseline is None:
            return []
        return compare_stress(
            baseline, stats.mode, str(stats.params.get("id", "")), samples, self.thresholds
        )

    def add_stress(
        self,
        stats: TestStats,
        fingerprint: ModelFingerprint,
        report: Path,
        charts: Sequence[Chart],
        samples: dict[str, list[float]],
        comparisons: Sequence[MetricComparison],
    ) -> None:
        """Record one stress test's results."""
        base = self.run_dir
        run_id = str(stats.params.get("id", ""))
        entry = stats.to_dict()
        entry.update(
            id=run_id,
            fingerprint=fingerprint.to_dict(),
            report=relative(report, base),
            records=relative(stats.records_path, base),
            charts=[relative(c.path, base) for c in charts],
            comparison=[_comparison_dict(c) for c in comparisons],
        )
        entry.pop("records_path", None)
        self.results.stress.append(entry)
        self._samples[(stats.model, stats.mode, run_id)] = samples
        self._note_comparisons(f"{stats.mode} {run_id}", comparisons)
        ttft = stats.summary.metrics.ttft_s
        log_test_summary(
            self.logger,
            f"{stats.mode} {run_id} [{stats.model}]",
            {
                "ok": stats.summary.ok,
                "failed": stats.summary.failed,
                "requests_per_s": stats.summary.throughput.requests_per_s,
                "ttft_p50_s": None if ttft is None else ttft.p50,
            },
        )

    def compare_toolbench(
        self, fingerprint: ModelFingerprint, run: ToolbenchRun
    ) -> ToolbenchComparison | None:
        """Compare a tool-bench run with the baseline (None without one)."""
        baseline = self.baseline(fingerprint)
        if baseline is None:
            return None
        return compare_toolbench(baseline, task_outcomes(run), self.thresholds.alpha)

    def add_toolbench(
        self,
        run: ToolbenchRun,
        fingerprint: ModelFingerprint,
        report: Path,
        charts: Sequence[Chart],
        comparison: ToolbenchComparison | None,
    ) -> None:
        """Record one model's tool-bench results."""
        outcomes = task_outcomes(run)
        entry = {
            "model": run.model,
            "fingerprint": fingerprint.to_dict(),
            "repeat": run.repeat,
            "concurrency": run.concurrency,
            "wall_s": run.wall_s,
            "summary": [row.__dict__ for row in run.summaries()],
            "tasks": [{"task_id": k, **v} for k, v in outcomes.items()],
            "report": relative(report, self.run_dir),
            "charts": [relative(c.path, self.run_dir) for c in charts],
            "comparison": None if comparison is None else _toolbench_dict(comparison),
        }
        self.results.toolbench.append(entry)
        if comparison is not None:
            t = comparison.transitions
            label = f"tool bench [{run.model}]"
            self.comparison_lines += [f"{label}: {line}" for line in comparison_lines(comparison)]
            if comparison.pass_rate.status == "regression":
                self.regressions.append(f"tool bench [{run.model}]: {comparison.pass_rate.line()}")
            if t.new_failures:
                self.regressions.append(f"tool bench new failures: {', '.join(t.new_failures)}")

    def _note_comparisons(self, label: str, comparisons: Sequence[MetricComparison]) -> None:
        for comparison in comparisons:
            if comparison.status in ("regression", "improvement"):
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

    # --- the end ---------------------------------------------------------------------------

    def finish(self) -> tuple[Path, Path] | None:
        """Save baselines when asked, then write ``results.json`` and ``summary.md``; None when
        nothing ran (no run directory is made for an empty run)."""
        if not (self.results.stress or self.results.toolbench or self.results.errors):
            return None
        if self.settings.baseline is not None:
            self.results.comparison = {
                "baseline": self.settings.baseline,
                "model_updated": "; ".join(self.model_updates) or None,
                "regressions": self.regressions,
                "lines": self.comparison_lines,
            }
        if self.settings.save_baseline is not None:
            self._save_baselines(self.settings.save_baseline)
        self._sweep_charts()
        paths = write_results(self.results, self.run_dir)
        if self._logger is not None:
            close_logger(self._logger)
        return paths

    def _sweep_charts(self) -> None:
        """Throughput and p95 latency against concurrency, per model with two or more points."""
        models = sorted({e["model"] for e in self.results.stress if e["mode"] == "throughput"})
        for model in models:
            points = [
                {
                    "concurrency": e["params"].get("concurrency"),
                    "requests_per_s": e["summary"]["throughput"].get("requests_per_s"),
                    "output_tokens_per_s": e["summary"]["throughput"].get("output_tokens_per_s"),
                    "ttft_p95_s": (e["summary"]["metrics"].get("ttft_s") or {}).get("p95"),
                    "e2e_p95_s": (e["summary"]["metrics"].get("e2e_s") or {}).get("p95"),
                }
                for e in self.results.stress
                if e["mode"] == "throughput" and e["model"] == model
            ]
            name = "throughput-sweep" if len(models) == 1 else f"throughput-sweep-{model}"
            for chart in sweep_chart(points, self.run_dir, re.sub(r"[^A-Za-z0-9._-]+", "_", name)):
                self.results.charts.append(
                    {
                        "title": f"{chart.title} ({model})",
                        "path": relative(chart.path, self.run_dir),
                    }
                )

    def _save_baselines(self, value: str) -> None:
        location = self._location(value)
        if location.suffix == ".json" and len(self._fingerprints) > 1:
            self.results.errors.append(
                f"--llm-save-baseline={value}: one file cannot hold {len(self._fingerprints)} "
                "models; give a directory"
            )
            return
        for fingerprint in self._fingerprints.values():
            stress = [
                {**e, "samples": self._samples.get((e["model"], e["mode"], e["id"]), {})}
                for e in self.results.stress
                if e["model"] == fingerprint.model
            ]
            tasks = {
                t["task_id"]: {k: t[k] for k in ("passed_all", "passes", "trials")}
                for bench in self.results.toolbench
                if bench["model"] == fingerprint.model
                for t in bench["tasks"]
            }
            document = baseline_document(
                fingerprint,
                self.results.run_id,
                self.results.plugin_version,
                self.results.settings,
                stress,
                tasks,
            )
            path = save_baseline(document, baseline_file(location, fingerprint))
            self.saved_baselines.append(path)


def _comparison_dict(comparison: MetricComparison) -> dict[str, Any]:
    return {**comparison.__dict__, "line": comparison.line()}


def _toolbench_dict(comparison: ToolbenchComparison) -> dict[str, Any]:
    return {
        "transitions": comparison.transitions.__dict__,
        "pass_rate": {**comparison.pass_rate.__dict__, "line": comparison.pass_rate.line()},
    }
