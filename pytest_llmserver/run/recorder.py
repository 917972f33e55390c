"""The run as a whole: it collects what the session's tests produced (stress tests, tool
benches, arenas), compares them with the baseline, and at the end writes ``results.json``,
``summary.md`` and the baselines asked for. Plain Python; the pytest plugin calls it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_llmserver._util import Redactor, slug
from pytest_llmserver.arena import ArenaResult
from pytest_llmserver.client import ServerRecord
from pytest_llmserver.gate import (
    Gate,
    MetricComparison,
    ModelFingerprint,
    Thresholds,
    ToolbenchComparison,
    baseline_document,
    baseline_file,
    samples_from_records,
    save_baseline,
)
from pytest_llmserver.report import (
    ArenaEntry,
    Chart,
    RunResults,
    StressEntry,
    ToolbenchEntry,
    chart_section,
    close_logger,
    log_test_summary,
    server_summary,
    setup_logger,
    stress_charts,
    sweep_chart,
    write_results,
)
from pytest_llmserver.run.merge import merge_shards, merge_toolbench
from pytest_llmserver.settings import Settings
from pytest_llmserver.stress import TestStats, free_stem, to_json, write_stress_report
from pytest_llmserver.toolbench import ToolbenchRun

Samples = dict[str, list[float]]


BASELINE_TASK_KEYS = ("passed_all", "passes", "trials", "trial_passed")
"""What a baseline keeps of each tool-bench task (``trial_passed``: each trial's outcome)."""


class RunRecorder:
    """Collects the session's results; ``finish()`` writes the run's files."""

    def __init__(
        self,
        settings: Settings,
        run_dir: Callable[[], Path],
        plugin_version: str,
        base_dir: Path,
        *,
        worker: bool = False,
    ) -> None:
        self.settings = settings
        server = settings.target.server
        self.redactor = Redactor(
            [settings.target.api_key], urls=[server.url if server is not None else None]
        )
        self.worker = worker
        self.absorbed = False
        self._run_dir = run_dir
        self.results = RunResults(
            run_id="", plugin_version=plugin_version, settings=settings.public_dict()
        )
        thresholds = Thresholds(
            relative=settings.gate.regression_threshold,
            floor_s=settings.gate.noise_floor_ms / 1000.0,
        )
        self.gate = Gate(settings.gate.baseline, thresholds, base_dir, self.error)
        self._logger: logging.Logger | None = None
        self.samples: dict[tuple[str, str, str], Samples] = {}
        self.fingerprints: dict[str, ModelFingerprint] = {}
        self.saved_baselines: list[Path] = []

    @property
    def run_dir(self) -> Path:
        """The run directory (made on first use)."""
        path = self._run_dir()
        self.results.run_id = path.name
        return path

    @property
    def logger(self) -> logging.Logger:
        """The run log (``run.log`` in the run directory), secrets redacted."""
        if self._logger is None:
            self._logger = setup_logger(
                f"pytest_llmserver.run.{id(self)}", self.run_dir, secrets=self.redactor.secrets
            )
        return self._logger

    def relative(self, path: Path) -> str:
        """``path`` relative to the run directory (POSIX style) when inside it; else as given."""
        try:
            return path.relative_to(self.run_dir).as_posix()
        except ValueError:
            return str(path)

    # --- targets and baselines -------------------------------------------------------------

    def target(self, server: ServerRecord, model: str) -> ModelFingerprint:
        """Record the (server, model) pair; its model fingerprint."""
        fingerprint = ModelFingerprint.of(server, model)
        self.fingerprints[fingerprint.key] = fingerprint
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

    def error(self, message: str) -> None:
        """A problem of the run itself (e.g. an unusable baseline): logged and recorded."""
        self.results.errors.append(message)
        self.logger.error("%s", message)

    # --- stress ------------------------------------------------------------------------------

    def report_stress(
        self,
        stats: TestStats,
        fingerprint: ModelFingerprint,
        directory: Path,
        *,
        compare: bool = True,
    ) -> tuple[Path, list[MetricComparison], Samples]:
        """Write a stress test's report (charts, baseline comparison) and record it; the
        report's path, the comparisons and the per-request samples."""
        stats.server = server_summary(stats.server, stats.model)  # one line in the report
        stem = free_stem(stats, directory)
        charts = stress_charts(stats.records_path, to_json(stats), directory, stem)
        samples = samples_from_records(stats.records_path)
        run_id = str(stats.params.get("id", ""))
        comparisons = (
            self.gate.compare_stress(fingerprint, stats.mode, run_id, samples) if compare else []
        )
        extra = chart_section(charts, directory)
        if comparisons:
            extra += ["## Compared with the baseline", ""]
            extra += [f"- {c.line()}" for c in comparisons]
        md_path, _ = write_stress_report(stats, directory, stem=stem, extra_lines=extra)
        self._add_stress(stats, run_id, fingerprint, md_path, charts, samples, comparisons)
        return md_path, comparisons, samples

    def _add_stress(
        self,
        stats: TestStats,
        run_id: str,
        fingerprint: ModelFingerprint,
        report: Path,
        charts: Sequence[Chart],
        samples: Samples,
        comparisons: Sequence[MetricComparison],
    ) -> StressEntry:
        """Record one stress test's results."""
        entry = StressEntry(
            mode=stats.mode,
            id=run_id,
            model=stats.model,
            params=stats.params,
            summary=stats.summary.to_dict(),
            wall_s=stats.wall_s,
            server=stats.server,
            loop_lag_p99_s=stats.loop_lag_p99_s,
            loop_lag_max_s=stats.loop_lag_max_s,
            t0_unix_s=stats.t0_unix_s,
            client_bound=stats.client_bound,
            tables=stats.tables,
            figures=stats.figures,
            notes=stats.notes,
            fingerprint=fingerprint.to_dict(),
            report=self.relative(report),
            records=self.relative(stats.records_path),
            charts=[self.relative(c.path) for c in charts],
            comparison=[c.to_dict() for c in comparisons],
            interrupted=stats.interrupted,
        )
        self.results.stress.append(entry)
        self.samples[(stats.model, stats.mode, run_id)] = samples
        log_test_summary(
            self.logger,
            f"{stats.mode} {run_id} [{stats.model}]",
            {
                "ok": entry.ok,
                "failed": entry.failed,
                "requests_per_s": entry.rate("requests_per_s"),
                "ttft_p50_s": entry.metric("ttft_s", "p50"),
            },
        )
        return entry

    # --- tool bench ----------------------------------------------------------------------------

    def add_toolbench(
        self,
        run: ToolbenchRun,
        fingerprint: ModelFingerprint,
        report: Path,
        charts: Sequence[Chart],
        comparison: ToolbenchComparison | None,
    ) -> ToolbenchEntry:
        """Record one model's tool-bench results."""
        outcomes = run.outcomes()
        entry = ToolbenchEntry(
            model=run.model,
            repeat=run.repeat,
            concurrency=run.concurrency,
            wall_s=run.wall_s,
            summary=[row.__dict__ for row in run.summaries()],
            tasks=[{"task_id": k, **v} for k, v in outcomes.items()],
            fingerprint=fingerprint.to_dict(),
            diagnostics=dict(run.diagnostics().__dict__),
            reports=[self.relative(report)],
            charts=[self.relative(c.path) for c in charts],
            comparison=None if comparison is None else comparison.to_dict(),
            partial_credit=[row.to_dict() for row in run.partial_summary()],
        )
        self.results.toolbench.append(entry)
        if comparison is not None and not self.worker:
            self.gate.note_toolbench(run.model, comparison)
        return entry

    # --- arenas ------------------------------------------------------------------------------

    def add_arena(self, result: ArenaResult, report: Path) -> ArenaEntry:
        """Record an arena's leaderboard and report."""
        entry = ArenaEntry(
            kind=result.kind,
            judge_model=result.judge_model,
            contestants=list(result.contestants),
            leaderboard=[stats.__dict__ for stats in result.stats],
            labels=dict(result.labels),
            questions=[q["id"] for q in result.questions],
            matchups=len(result.matchups),
            warnings=list(result.warnings),
            report=self.relative(report),
        )
        self.results.arenas.append(entry)
        return entry

    # --- the end -----------------------------------------------------------------------------

    def finish(self, *, interrupted: bool = False) -> tuple[Path, Path] | None:
        """Merge shards and workers' entries, save baselines when asked, then write
        ``results.json`` and ``summary.md`` (marked ``interrupted`` when the run was stopped);
        None when nothing ran (no directory is made)."""
        if self.results.empty:
            return None
        self.results.interrupted = interrupted
        merge_shards(self)
        if self.absorbed:
            merge_toolbench(self)
        self.results.comparison = self.gate.summary()
        if self.results.comparison is not None:
            self.results.comparison["baseline_files"] = self._baseline_files()
        if self.settings.gate.save_baseline is not None:
            self._save_baselines(self.settings.gate.save_baseline)
        self._sweep_charts()
        paths = write_results(self.results, self.run_dir, self.redactor.scrub)
        if self._logger is not None:
            close_logger(self._logger)
        return paths

    def _baseline_files(self) -> list[dict[str, Any]]:
        """The baseline file of each model compared (relative to the working directory when
        under it), and whether it was there."""
        wanted = self.gate.wanted
        if wanted is None:
            return []
        location = self.gate.location(wanted)
        files = []
        for fingerprint in self.fingerprints.values():
            path = baseline_file(location, fingerprint)
            try:
                shown = path.relative_to(Path.cwd())
            except ValueError:
                shown = path
            files.append({"path": str(shown), "found": path.is_file()})
        return files

    def _sweep_charts(self) -> None:
        """Throughput and p95 latency against concurrency, per model with two or more points."""
        sweeps = [e for e in self.results.stress if e.mode == "throughput"]
        models = sorted({e.model for e in sweeps})
        for model in models:
            points = [
                {
                    "concurrency": e.params.get("concurrency"),
                    "requests_per_s": e.rate("requests_per_s"),
                    "output_tokens_per_s": e.rate("output_tokens_per_s"),
                    "ttft_p95_s": e.metric("ttft_s", "p95"),
                    "e2e_p95_s": e.metric("e2e_s", "p95"),
                }
                for e in sweeps
                if e.model == model
            ]
            name = "throughput-sweep" if len(models) == 1 else f"throughput-sweep-{model}"
            for chart in sweep_chart(points, self.run_dir, slug(name)):
                self.results.charts.append(
                    {"title": f"{chart.title} ({model})", "path": self.relative(chart.path)}
                )

    def _save_baselines(self, value: str) -> None:
        location = self.gate.location(value)
        if location.suffix == ".json" and len(self.fingerprints) > 1:
            self.results.errors.append(
                f"--llm-save-baseline={value}: one file cannot hold {len(self.fingerprints)} "
                "models; give a directory"
            )
            return
        for fingerprint in self.fingerprints.values():
            stress = [
                {**e.to_dict(), "samples": self.samples.get((e.model, e.mode, e.id), {})}
                for e in self.results.stress
                if e.model == fingerprint.model
            ]
            tasks = {
                t["task_id"]: {k: t[k] for k in BASELINE_TASK_KEYS if k in t}
                for bench in self.results.toolbench
                if bench.model == fingerprint.model
                for t in bench.tasks
            }
            document = baseline_document(
                fingerprint,
                self.results.run_id,
                self.results.plugin_version,
                self.results.settings,
                stress,
                tasks,
            )
            path = save_baseline(
                self.redactor.scrub(document), baseline_file(location, fingerprint)
            )
            self.saved_baselines.append(path)
