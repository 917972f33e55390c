"""The run as a whole: its directory, log, ``results.json`` / ``summary.md``, baselines and the
regression gate. Plain Python; the pytest hooks call it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmserver._util import slug
from pytest_llmserver.arena import ArenaResult
from pytest_llmserver.client import ServerRecord
from pytest_llmserver.gate import (
    DEFAULT_DIR,
    Baseline,
    BaselineError,
    MetricComparison,
    ModelFingerprint,
    Thresholds,
    ToolbenchComparison,
    baseline_document,
    baseline_file,
    compare_stress,
    compare_toolbench,
    comparison_lines,
    load_baseline,
    model_update,
    samples_from_records,
    save_baseline,
)
from pytest_llmserver.report import (
    Chart,
    RunResults,
    chart_section,
    close_logger,
    log_test_summary,
    setup_logger,
    stress_charts,
    sweep_chart,
    write_results,
)
from pytest_llmserver.settings import Settings
from pytest_llmserver.stress import (
    TestStats,
    free_stem,
    merge_records,
    summarize_file,
    to_json,
    write_stress_report,
)
from pytest_llmserver.toolbench import TIERS, ToolbenchRun


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
        *,
        worker: bool = False,
    ) -> None:
        self.settings = settings
        self.worker = worker
        self._absorbed = False
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

    def report_stress(
        self,
        stats: TestStats,
        fingerprint: ModelFingerprint,
        directory: Path,
        *,
        compare: bool = True,
    ) -> tuple[Path, list[MetricComparison], dict[str, list[float]]]:
        """Write a stress test's report (charts, baseline comparison) and record it; the
        report's path, the comparisons and the per-request samples."""
        stem = free_stem(stats, directory)
        charts = stress_charts(stats.records_path, to_json(stats), directory, stem)
        samples = samples_from_records(stats.records_path)
        comparisons = self.compare_stress(fingerprint, stats, samples) if compare else []
        extra = chart_section(charts, directory)
        if comparisons:
            extra += ["## Compared with the baseline", ""]
            extra += [f"- {c.line()}" for c in comparisons]
        md_path, _ = write_stress_report(stats, directory, stem=stem, extra_lines=extra)
        self.add_stress(stats, fingerprint, md_path, charts, samples, comparisons)
        return md_path, comparisons, samples

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
        if comparison is not None and not self.worker:
            self._note_toolbench(run.model, comparison)

    def _note_toolbench(self, model: str, comparison: ToolbenchComparison) -> None:
        label = f"tool bench [{model}]"
        self.comparison_lines += [
            f"{label}: {line}"
            for line in comparison_lines(comparison)
            if comparison.pass_rate.status != "regression" or "pass rate" not in line
        ]
        if comparison.pass_rate.status == "regression":
            self.regressions.append(f"{label}: {comparison.pass_rate.line()}")
        if comparison.transitions.new_failures:
            failures = ", ".join(comparison.transitions.new_failures)
            self.regressions.append(f"{label} new failures: {failures}")

    def _note_comparisons(self, label: str, comparisons: Sequence[MetricComparison]) -> None:
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

    def add_arena(self, result: ArenaResult, report: Path) -> None:
        """Record an arena's leaderboard and report."""
        self.results.arenas.append(
            {
                "kind": result.kind,
                "judge_model": result.judge_model,
                "contestants": result.contestants,
                "labels": result.labels,
                "questions": [q["id"] for q in result.questions],
                "matchups": len(result.matchups),
                "leaderboard": [stats.__dict__ for stats in result.stats],
                "warnings": result.warnings,
                "report": relative(report, self.run_dir),
            }
        )

    # --- xdist ------------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """What a worker hands to the controller: plain JSON types only, as ``workeroutput``
        travels through execnet (numpy scalars and paths are converted)."""
        exported = {
            "results": self.results.to_dict(),
            "samples": [[*key, value] for key, value in self._samples.items()],
            "fingerprints": [f.to_dict() for f in self._fingerprints.values()],
            "comparison_lines": self.comparison_lines,
            "regressions": self.regressions,
            "model_updates": self.model_updates,
        }
        plain: dict[str, Any] = json.loads(json.dumps(exported, default=_plain))
        return plain

    def absorb(self, exported: Mapping[str, Any]) -> None:
        """Take in a worker's ``export``."""
        self._absorbed = True
        self.results.merge(exported.get("results") or {})
        for model, mode, run_id, samples in exported.get("samples") or []:
            self._samples[(model, mode, run_id)] = samples
        for raw in exported.get("fingerprints") or []:
            fingerprint = ModelFingerprint.from_dict(raw)
            self._fingerprints[fingerprint.key] = fingerprint
        for name in ("comparison_lines", "regressions", "model_updates"):
            mine: list[str] = getattr(self, name)
            mine += [line for line in exported.get(name) or [] if line not in mine]

    def _merge_toolbench(self) -> None:
        """One tool-bench entry per model from the workers' entries (each worker ran some of
        the tasks), compared with the baseline as a whole."""
        by_model: dict[str, list[dict[str, Any]]] = {}
        for entry in self.results.toolbench:
            by_model.setdefault(entry["model"], []).append(entry)
        merged = []
        for model, entries in by_model.items():
            tasks = {t["task_id"]: t for e in entries for t in e["tasks"]}
            entry = {
                **entries[0],
                "wall_s": max(e["wall_s"] for e in entries),
                "summary": tier_summary(list(tasks.values())),
                "tasks": list(tasks.values()),
                "report": [e["report"] for e in entries],
                "charts": [c for e in entries for c in e.get("charts", [])],
                "comparison": None,
            }
            baseline = self.baseline(ModelFingerprint.from_dict(entry["fingerprint"]))
            comparison = (
                None
                if baseline is None
                else compare_toolbench(baseline, tasks, self.thresholds.alpha)
            )
            if comparison is not None:
                entry["comparison"] = _toolbench_dict(comparison)
                self._note_toolbench(model, comparison)
            merged.append(entry)
        self.results.toolbench = merged

    def _merge_shards(self) -> None:
        """Replace each sharded test's shard entries by one entry over their merged records."""
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for entry in self.results.stress:
            params = entry.get("params") or {}
            if int(params.get("shards") or 1) > 1:
                key = (entry["model"], entry["mode"], str(params.get("shard_group")))
                groups.setdefault(key, []).append(entry)
        for (model, mode, group), entries in groups.items():
            entries.sort(key=lambda e: int(e["params"].get("shard") or 0))
            for entry in entries:
                self.results.stress.remove(entry)
            first = entries[0]
            shard_records = self.run_dir / first["records"]
            records = shard_records.with_name(f"stress-{mode}-{group}.jsonl")
            parts = [
                (self.run_dir / e["records"], float(e.get("t0_unix_s") or 0.0)) for e in entries
            ]
            spread_s = merge_records(parts, records)
            params = {k: v for k, v in first["params"].items() if k not in ("shard", "seed")}
            params.update(
                id=group, shards=len(entries), seeds=[e["params"].get("seed") for e in entries]
            )
            reports = ", ".join(str(e["report"]) for e in entries)
            notes = [
                f"merged from {len(entries)} shards ({reports}); "
                f"their measurement starts spread over {spread_s * 1e3:.1f} ms",
                *(note for e in entries for note in e.get("notes") or [] if "shard" in note),
            ]
            stats = TestStats(
                mode=mode,
                params=params,
                server=first["server"],
                model=model,
                summary=summarize_file(records, self.settings.slos or None),
                records_path=records,
                wall_s=max(float(e["wall_s"]) for e in entries),
                loop_lag_p99_s=max((e.get("loop_lag_p99_s") or 0.0) for e in entries),
                loop_lag_max_s=max((e.get("loop_lag_max_s") or 0.0) for e in entries),
                t0_unix_s=min(t0 for _, t0 in parts),
                notes=notes,
            )
            fingerprint = ModelFingerprint.from_dict(first["fingerprint"])
            self.report_stress(stats, fingerprint, records.parent)
            self.results.stress[-1]["shard_reports"] = [e["report"] for e in entries]

    # --- the end ---------------------------------------------------------------------------

    def finish(self) -> tuple[Path, Path] | None:
        """Save baselines when asked, then write ``results.json`` and ``summary.md``; None when
        nothing ran (no run directory is made for an empty run)."""
        results = self.results
        if not (results.stress or results.toolbench or results.arenas or results.errors):
            return None
        self._merge_shards()
        if self._absorbed:
            self._merge_toolbench()
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
            for chart in sweep_chart(points, self.run_dir, slug(name)):
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


def _plain(value: object) -> object:
    """JSON form of numpy scalars (their ``item()``) and of anything else (its ``str``)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def tier_summary(tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``[{tier, tasks, pass_at_1, pass_all}]`` per tier present, then ``all``, from per-task
    outcomes ``{tier, passes, trials, passed_all}``."""
    groups = [(tier, [t for t in tasks if t.get("tier") == tier]) for tier in TIERS]
    rows = []
    for tier, members in [*groups, ("all", list(tasks))]:
        if members:
            rows.append(
                {
                    "tier": tier,
                    "tasks": len(members),
                    "pass_at_1": sum(t["passes"] / max(t["trials"], 1) for t in members)
                    / len(members),
                    "pass_all": sum(bool(t["passed_all"]) for t in members) / len(members),
                }
            )
    return rows


def _comparison_dict(comparison: MetricComparison) -> dict[str, Any]:
    return {**comparison.__dict__, "line": comparison.line()}


def _toolbench_dict(comparison: ToolbenchComparison) -> dict[str, Any]:
    return {
        "transitions": comparison.transitions.__dict__,
        "pass_rate": {**comparison.pass_rate.__dict__, "line": comparison.pass_rate.line()},
    }


class TargetSession:
    """What every pytest-side session works with: the server and model under test, the
    settings, the run's recorder, and where its reports go."""

    def __init__(
        self,
        server: ServerRecord,
        model: str,
        settings: Settings,
        recorder: RunRecorder,
        run_dir: Callable[[], Path],
    ) -> None:
        self.server = server
        self.model = model
        self.settings = settings
        self.recorder = recorder
        self._run_dir = run_dir
