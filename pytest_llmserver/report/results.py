"""``results.json`` and ``summary.md``: everything one run produced, in one versioned schema.

``results.json`` (schema ``pytest-llmserver/results``, ``schema_version`` 1)::

    schema, schema_version      "pytest-llmserver/results", 1
    run_id                      the run directory's name, e.g. "20261124-230000-ab12cd"
    started_at, finished_at     ISO 8601 UTC
    plugin_version, host        {hostname, platform, python, cpu_count}
    settings                    the resolved options (API key shown only as "set")
    targets[]                   {url, kind, type, model, fingerprint{kind, model, server_version,
                                digest, size_bytes, quantization, context_length}}
    stress[]                    one per stress test: {mode, id, model, fingerprint, params,
                                server{kind, version, url, size, quantization},
                                summary{metrics{<metric>{n, min, max, mean, stddev, p50, p90,
                                p95, p99}}, throughput, errors, slos, ...}, wall_s, figures,
                                tables, notes, report, records, charts[], comparison[]}
    toolbench[]                 one per model: {model, fingerprint, repeat, concurrency, wall_s,
                                summary[{tier, tasks, pass_at_1, pass_all}], diagnostics,
                                tasks[{task_id, tier, passed_all, passes, trials, reason}],
                                report, comparison}
    arenas[]                    one per arena: {kind (prompts|models), judge_model, contestants,
                                labels, questions, matchups, leaderboard[{contestant, wins,
                                losses, ties, unparseable, win_rate, mean_score, score_n, ...}],
                                warnings, report}
    comparison                  null, or {baseline, baseline_files[{path, found}],
                                model_updated, regressions[], lines[]}
    charts[]                    run-level charts {title, path} (throughput against concurrency)
    errors[]                    problems of the run itself (e.g. an unreadable baseline)
    interrupted                 true when the run was stopped (SIGINT, SIGTERM) before its end

Paths inside (report, records, charts) are relative to the run directory. Times are seconds.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from pytest_llmserver._util import atomic_write
from pytest_llmserver.report.summary import render_summary

SCHEMA = "pytest-llmserver/results"
SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.md"


def host_info() -> dict[str, Any]:
    """Where the run happened."""
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
    }


def utc_now() -> str:
    """The time now, ISO 8601 UTC to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


_Entry = TypeVar("_Entry", "StressEntry", "ToolbenchEntry", "ArenaEntry")


def _from_dict(cls: type[_Entry], raw: dict[str, Any]) -> _Entry:
    """An entry from its ``to_dict`` form (unknown keys ignored, missing ones defaulted)."""
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass
class StressEntry:
    """One stress test: its parameters, summary (the JSON form of ``StressSummary``), where its
    report, records and charts are (relative to the run directory), and its comparison."""

    mode: str
    id: str
    model: str
    params: dict[str, Any]
    summary: dict[str, Any]
    wall_s: float
    server: dict[str, Any] = field(default_factory=dict)
    loop_lag_p99_s: float | None = None
    loop_lag_max_s: float | None = None
    t0_unix_s: float | None = None
    client_bound: bool = False
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    report: str = ""
    records: str = ""
    charts: list[str] = field(default_factory=list)
    comparison: list[dict[str, Any]] = field(default_factory=list)
    shard_reports: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> int:
        """Successful measured requests."""
        return int(self.summary.get("ok") or 0)

    @property
    def failed(self) -> int:
        """Failed measured requests."""
        return int(self.summary.get("failed") or 0)

    def metric(self, name: str, stat: str) -> float | None:
        """One statistic of one metric (``metric("ttft_s", "p50")``), None when not measured."""
        value = ((self.summary.get("metrics") or {}).get(name) or {}).get(stat)
        return float(value) if isinstance(value, (int, float)) else None

    def rate(self, name: str) -> float | None:
        """A throughput figure (``requests_per_s``, ``output_tokens_per_s``, ...)."""
        value = (self.summary.get("throughput") or {}).get(name)
        return float(value) if isinstance(value, (int, float)) else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``shard_reports`` only when the entry was merged from shards)."""
        out = asdict(self)
        if not self.shard_reports:
            del out["shard_reports"]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StressEntry:
        return _from_dict(cls, raw)


@dataclass
class ToolbenchEntry:
    """One model's tool bench: pass rates by tier, per-task outcomes, reports, comparison."""

    model: str
    repeat: int
    concurrency: int
    wall_s: float
    summary: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    fingerprint: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, int] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    comparison: dict[str, Any] | None = None
    partial_credit: list[dict[str, Any]] = field(default_factory=list)
    """Per tier, then ``all``: the share of checks passed (tools, arguments, answer, safety)."""

    @property
    def failed_tasks(self) -> list[dict[str, Any]]:
        """Tasks that did not pass every trial."""
        return [t for t in self.tasks if not t.get("passed_all")]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``report`` is one path, or a list when several workers wrote one."""
        out = asdict(self)
        reports = out.pop("reports")
        out["report"] = reports[0] if len(reports) == 1 else reports
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ToolbenchEntry:
        report = raw.get("report")
        reports = report if isinstance(report, list) else [report] if report else []
        return _from_dict(cls, {**raw, "reports": [str(r) for r in reports]})


@dataclass
class ArenaEntry:
    """One arena: contestants, judge, leaderboard and report."""

    kind: str
    judge_model: str
    contestants: list[str]
    leaderboard: list[dict[str, Any]]
    labels: dict[str, str] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)
    matchups: int = 0
    warnings: list[str] = field(default_factory=list)
    report: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ArenaEntry:
        return _from_dict(cls, raw)


@dataclass
class RunResults:
    """The machine-readable record of one run, entry by entry."""

    run_id: str
    plugin_version: str
    settings: dict[str, Any]
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    host: dict[str, Any] = field(default_factory=host_info)
    targets: list[dict[str, Any]] = field(default_factory=list)
    stress: list[StressEntry] = field(default_factory=list)
    toolbench: list[ToolbenchEntry] = field(default_factory=list)
    arenas: list[ArenaEntry] = field(default_factory=list)
    comparison: dict[str, Any] | None = None
    charts: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def empty(self) -> bool:
        """True when nothing ran and nothing went wrong."""
        return not (self.stress or self.toolbench or self.arenas or self.errors)

    def add_target(self, entry: dict[str, Any]) -> None:
        """Record a (server, model) pair once."""
        key = (entry.get("url"), entry.get("model"))
        if all((t.get("url"), t.get("model")) != key for t in self.targets):
            self.targets.append(entry)

    def merge(self, other: dict[str, Any]) -> None:
        """Take the targets, entries and errors of another (worker's) ``to_dict``."""
        for target in other.get("targets", []):
            self.add_target(target)
        self.stress += [StressEntry.from_dict(e) for e in other.get("stress", [])]
        self.toolbench += [ToolbenchEntry.from_dict(e) for e in other.get("toolbench", [])]
        self.arenas += [ArenaEntry.from_dict(e) for e in other.get("arenas", [])]
        self.errors += [e for e in other.get("errors", []) if e not in self.errors]

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` document."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "plugin_version": self.plugin_version,
            "host": self.host,
            "settings": self.settings,
            "targets": self.targets,
            "stress": [e.to_dict() for e in self.stress],
            "toolbench": [e.to_dict() for e in self.toolbench],
            "arenas": [e.to_dict() for e in self.arenas],
            "comparison": self.comparison,
            "charts": self.charts,
            "errors": self.errors,
            "interrupted": self.interrupted,
        }


def write_results(
    results: RunResults, run_dir: Path, scrub: Callable[[Any], Any] = lambda value: value
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``summary.md`` into ``run_dir`` (both passed through
    ``scrub``, the run's redaction); return their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    results.finished_at = results.finished_at or utc_now()
    document = scrub(results.to_dict())
    json_path = atomic_write(
        run_dir / RESULTS_FILE, json.dumps(document, indent=1, default=str) + "\n"
    )
    files = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    summary_path = atomic_write(run_dir / SUMMARY_FILE, render_summary(document, files))
    return json_path, summary_path
