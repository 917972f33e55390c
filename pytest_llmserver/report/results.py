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
    comparison                  null, or {baseline, model_updated, regressions[], lines[]}
    charts[]                    run-level charts {title, path} (throughput against concurrency)
    errors[]                    problems of the run itself (e.g. an unreadable baseline)

Paths inside (report, records, charts) are relative to the run directory. Times are seconds.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmserver._util import atomic_write

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


@dataclass
class RunResults:
    """The machine-readable record of one run; entries are plain JSON-ready dicts."""

    run_id: str
    plugin_version: str
    settings: dict[str, Any]
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    host: dict[str, Any] = field(default_factory=host_info)
    targets: list[dict[str, Any]] = field(default_factory=list)
    stress: list[dict[str, Any]] = field(default_factory=list)
    toolbench: list[dict[str, Any]] = field(default_factory=list)
    arenas: list[dict[str, Any]] = field(default_factory=list)
    comparison: dict[str, Any] | None = None
    charts: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add_target(self, entry: dict[str, Any]) -> None:
        """Record a (server, model) pair once."""
        key = (entry.get("url"), entry.get("model"))
        if all((t.get("url"), t.get("model")) != key for t in self.targets):
            self.targets.append(entry)

    def merge(self, other: dict[str, Any]) -> None:
        """Take the targets, entries and errors of another (worker's) results dict."""
        for target in other.get("targets", []):
            self.add_target(target)
        self.stress += other.get("stress", [])
        self.toolbench += other.get("toolbench", [])
        self.arenas += other.get("arenas", [])
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
            "stress": self.stress,
            "toolbench": self.toolbench,
            "arenas": self.arenas,
            "comparison": self.comparison,
            "charts": self.charts,
            "errors": self.errors,
        }


def write_results(results: RunResults, run_dir: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``summary.md`` into ``run_dir``; return their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    results.finished_at = results.finished_at or utc_now()
    json_path = atomic_write(
        run_dir / RESULTS_FILE, json.dumps(results.to_dict(), indent=1, default=str) + "\n"
    )
    summary_path = run_dir / SUMMARY_FILE
    summary_path.write_text(render_summary(results.to_dict()), encoding="utf-8")
    return json_path, summary_path


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value * 1e3:.1f}"


def _num(value: Any, digits: int = 2) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


def _metric(summary: dict[str, Any], name: str, stat: str) -> Any:
    return ((summary.get("metrics") or {}).get(name) or {}).get(stat)


def render_summary(doc: dict[str, Any]) -> str:
    """``summary.md``: what ran against what, the key figures, and links to every report."""
    lines = [f"# Run {doc['run_id']}", ""]
    comparison = doc.get("comparison") or {}
    if comparison.get("model_updated"):
        lines += [f"**model updated: {comparison['model_updated']}**", ""]
    for error in doc.get("errors") or []:
        lines += [f"**error: {error}**", ""]
    settings = doc.get("settings") or {}
    host = doc.get("host") or {}
    lines += [
        "| | |",
        "|---|---|",
        f"| started | {doc.get('started_at')} (finished {doc.get('finished_at')}) |",
        f"| plugin | pytest-llmserver {doc.get('plugin_version')} |",
        f"| host | {host.get('hostname')}, {host.get('platform')}, Python {host.get('python')},"
        f" {host.get('cpu_count')} CPUs |",
        f"| seed | {settings.get('seed')} |",
    ]
    for target in doc.get("targets") or []:
        fp = target.get("fingerprint") or {}
        build = ", ".join(
            f"{k} {fp[k]}"
            for k in ("server_version", "digest", "size_bytes", "quantization", "context_length")
            if fp.get(k)
        )
        lines.append(
            f"| target | {target.get('url')} ({target.get('kind')}, {target.get('type')}), "
            f"model `{target.get('model')}`{'; ' + build if build else ''} |"
        )
    options = ", ".join(f"{k}={v}" for k, v in settings.items() if v not in (None, [], {}, ""))
    lines += [f"| options | {options} |", ""]
    if comparison:
        lines += [
            "## Compared with the baseline",
            "",
            f"Baseline: `{comparison.get('baseline')}`",
            "",
        ]
        found = [f"- **regression** {line}" for line in comparison.get("regressions") or []]
        found += [f"- {line}" for line in comparison.get("lines") or []]
        lines += found or ["- no comparable data"]
        lines.append("")
    for chart in doc.get("charts") or []:
        lines += [f"![{chart['title']}]({chart['path']})", ""]
    stress = doc.get("stress") or []
    if stress:
        lines += [
            "## Stress",
            "",
            "| mode | id | model | ok | failed | req/s | TTFT p50 ms | TTFT p95 ms "
            "| E2E p95 ms | ITL p50 ms | report |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for entry in stress:
            summary = entry.get("summary") or {}
            rps = (summary.get("throughput") or {}).get("requests_per_s")
            lines.append(
                f"| {entry.get('mode')} | {entry.get('id')} | {entry.get('model')} "
                f"| {summary.get('ok', '-')} | {summary.get('failed', '-')} | {_num(rps)} "
                f"| {_ms(_metric(summary, 'ttft_s', 'p50'))} "
                f"| {_ms(_metric(summary, 'ttft_s', 'p95'))} "
                f"| {_ms(_metric(summary, 'e2e_s', 'p95'))} "
                f"| {_ms(_metric(summary, 'itl_s', 'p50'))} "
                f"| [{entry.get('report')}]({entry.get('report')}) |"
            )
        lines.append("")
    for bench in doc.get("toolbench") or []:
        lines += [
            f"## Tool bench: {bench.get('model')}",
            "",
            "| tier | tasks | pass@1 | pass^k |",
            "|---|---:|---:|---:|",
        ]
        for row in bench.get("summary") or []:
            lines.append(
                f"| {row['tier']} | {row['tasks']} | {row['pass_at_1']:.1%} "
                f"| {row['pass_all']:.1%} |"
            )
        failed = [t for t in bench.get("tasks") or [] if not t.get("passed_all")]
        report = bench.get("report")
        reports = report if isinstance(report, list) else [report]
        links = ", ".join(f"[{r}]({r})" for r in reports)
        lines += ["", f"{len(failed)} task(s) failed; details: {links}", ""]
        lines += [f"- {t['task_id']}: {t.get('reason')}" for t in failed[:20]]
        if len(failed) > 20:
            lines.append(f"- ... and {len(failed) - 20} more")
        lines.append("")
    for arena in doc.get("arenas") or []:
        lines += [
            f"## Arena: {arena['kind']} (judge {arena['judge_model']})",
            "",
            "| contestant | win rate | W/L/T | unreadable | mean score (n) |",
            "|---|---:|---|---:|---|",
        ]
        for row in arena.get("leaderboard") or []:
            rate = "-" if row.get("win_rate") is None else f"{row['win_rate']:.0%}"
            score = "-" if row.get("mean_score") is None else f"{row['mean_score']:.1f}"
            lines.append(
                f"| {row['contestant']} | {rate} | {row['wins']}/{row['losses']}/{row['ties']} "
                f"| {row['unparseable']} | {score} ({row['score_n']}) |"
            )
        lines += [""] + [f"- warning: {w}" for w in arena.get("warnings") or []]
        lines += [f"Details: [{arena['report']}]({arena['report']})", ""]
    lines += ["Machine-readable: [results.json](results.json); run log: [run.log](run.log).", ""]
    return "\n".join(lines)
