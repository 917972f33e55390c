"""``summary.md``: what ran against what, the key figures, and links to every report."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pytest_llmserver._util import md_cell
from pytest_llmserver.report.brief import relevant_options, shown_groups, target_line


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value * 1e3:.1f}"


def _num(value: Any, digits: int = 2) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


def _metric(summary: dict[str, Any], name: str, stat: str) -> Any:
    return ((summary.get("metrics") or {}).get(name) or {}).get(stat)


def _option_groups() -> dict[str, str]:
    """Each setting's option group (target, run, discovery, stress, gate, arena)."""
    from pytest_llmserver.settings import OPTIONS

    return {spec.field: spec.group for spec in OPTIONS}


def _baselines(comparison: dict[str, Any]) -> str:
    """The baseline files compared with (``not found`` marked), else what was asked for."""
    files = comparison.get("baseline_files") or []
    if not files:
        return f"`{comparison.get('baseline')}`"
    return ", ".join(f"`{f['path']}`" + ("" if f.get("found") else " (not found)") for f in files)


def render_summary(doc: dict[str, Any], files: Collection[str] | None = None) -> str:
    """``summary.md``: what ran against what, the key figures, and links to every report.

    With ``files`` (paths relative to the run directory that exist) a link is made only to a
    file in it; any other is named as not written.
    """

    def link(path: object) -> str:
        text = str(path)
        if files is None or text in files:
            return f"[{text}]({text})"
        return f"{text} (not written)"

    lines = [f"# Run {doc['run_id']}", ""]
    if doc.get("interrupted"):
        lines += ["**interrupted: the figures below cover what finished before the stop**", ""]
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
        lines.append(f"| target | {target_line(target).replace('|', '/')} |")
    options = relevant_options(settings, _option_groups(), shown_groups(doc))
    shown = ", ".join(f"{k}={v}" for k, v in options.items())
    lines += [f"| options | {md_cell(shown)} |", ""]
    if comparison:
        lines += [
            "## Compared with the baseline",
            "",
            f"Baseline: {_baselines(comparison)}",
            "",
        ]
        found = [f"- **regression** {line}" for line in comparison.get("regressions") or []]
        found += [f"- {line}" for line in comparison.get("lines") or []]
        lines += found or ["- no comparable data"]
        lines.append("")
    for chart in doc.get("charts") or []:
        if files is None or chart["path"] in files:
            lines += [f"![{chart['title']}]({chart['path']})", ""]
    stress = doc.get("stress") or []
    if stress:
        lines += [
            "## Stress",
            "",
            "| mode | id | model | ok | failed | req/s | out tok/s | TTFT p50 ms | TTFT p95 ms "
            "| E2E p95 ms | ITL p50 ms | report |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for entry in stress:
            summary = entry.get("summary") or {}
            throughput = summary.get("throughput") or {}
            rps, tps = throughput.get("requests_per_s"), throughput.get("output_tokens_per_s")
            lines.append(
                f"| {entry.get('mode')} | {entry.get('id')} | {entry.get('model')} "
                f"| {summary.get('ok', '-')} | {summary.get('failed', '-')} "
                f"| {_num(rps)} | {_num(tps, 1)} "
                f"| {_ms(_metric(summary, 'ttft_s', 'p50'))} "
                f"| {_ms(_metric(summary, 'ttft_s', 'p95'))} "
                f"| {_ms(_metric(summary, 'e2e_s', 'p95'))} "
                f"| {_ms(_metric(summary, 'itl_s', 'p50'))} "
                f"| {link(entry.get('report'))} |"
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
        links = ", ".join(link(r) for r in reports)
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
        lines += [f"Details: {link(arena['report'])}", ""]
    log = "; run log: [run.log](run.log)" if files is None or "run.log" in files else ""
    lines += [f"Machine-readable: [results.json](results.json){log}.", ""]
    return "\n".join(lines)
