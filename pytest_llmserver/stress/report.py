"""Markdown and JSON reports of one stress-mode run (``TestStats``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_llmserver._util import fmt_value, md_table, slug
from pytest_llmserver.stress.lengths import length_row
from pytest_llmserver.stress.percentiles import (
    LOW_N_TAIL_SAMPLES,
    PERCENTILES,
    Percentiles,
    min_samples,
)
from pytest_llmserver.stress.prompt_cache import cache_note, cache_row
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.summary import StressSummary, suspect_note

SCHEMA_VERSION = 1
"""Version of the JSON report layout."""

_METRIC_ORDER: tuple[str, ...] = (
    "ttfb_s",
    "ttft_s",
    "ttfc_s",
    "e2e_s",
    "itl_s",
    "tpot_s",
    "queue_s",
    "decode_tps",
    "server_decode_tps",
    "server_prefill_tps",
)
_PCT_COLUMNS: tuple[str, ...] = ("n", "min", "p50", "p90", "p95", "p99", "max", "mean", "stddev")
_ID_MAX_CHARS = 60


# --------------------------------------------------------------------------- formatting


def _ms(seconds: float | None) -> str:
    """Seconds as milliseconds with one decimal (``-`` when missing)."""
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def _title(key: str) -> str:
    """Section title from a table key (``"sweep_rows"`` -> ``"Sweep rows"``)."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else key


# --------------------------------------------------------------------------- sections


def _metric_label(name: str) -> tuple[str, float]:
    """Row label and the factor turning the metric's unit into the shown unit."""
    if name.endswith("_tps"):
        return f"{name.removesuffix('_tps')} (tok/s)", 1.0
    return f"{name.removesuffix('_s')} (ms)", 1000.0


def _percentile_row(name: str, summary: Percentiles) -> list[str]:
    label, factor = _metric_label(name)
    row = [label]
    for column in _PCT_COLUMNS:
        if column == "n":
            row.append(str(summary.n))
            continue
        value: float | None = getattr(summary, column)
        text = "-" if value is None else f"{value * factor:.1f}"
        if column in summary.low_n:
            text += "*"
        row.append(text)
    return row


def _percentile_section(summary: StressSummary) -> list[str]:
    present = [
        (name, table)
        for name in _METRIC_ORDER
        if (table := summary.metrics.metric(name)) is not None
    ]
    lines = ["## Latency and rates", ""]
    if not present:
        return [*lines, "No successful measured requests.", ""]
    lines += md_table(["metric", *_PCT_COLUMNS], (_percentile_row(n, t) for n, t in present))
    lines.append("")
    if summary.metrics.itl_s is not None:
        lines.append(
            f"itl n counts inter-token gaps pooled from {summary.metrics.itl_requests} requests."
        )
        lines.append("")
    if any(table.low_n for _, table in present):
        needs = ", ".join(f"p{p} n >= {min_samples(p)}" for p in PERCENTILES)
        lines.append(
            f"\\* fewer than {LOW_N_TAIL_SAMPLES} samples lie beyond this percentile, "
            f"so it is unreliable ({needs})."
        )
        lines.append("")
    return lines


def _throughput_section(summary: StressSummary) -> list[str]:
    tp = summary.throughput
    window = "-" if tp.window_s is None else f"{tp.window_s:.3f} s"

    def rate(value: float | None, unit: str) -> str:
        return "-" if value is None else f"{value:.2f} {unit}"

    rows = [
        ("window", window),
        ("requests", f"{tp.requests} ({rate(tp.requests_per_s, 'req/s')})"),
        ("output tokens", f"{tp.output_tokens} ({rate(tp.output_tokens_per_s, 'tok/s')})"),
        ("errors", f"{tp.errors} ({rate(tp.errors_per_s, 'err/s')})"),
        ("cached prompt tokens", cache_row(summary.prompt_cache)),
    ]
    rows += [(f"{key} tokens", length_row(value)) for key, value in summary.lengths.items()]
    return ["## Throughput", "", *md_table(["measure", "value"], rows), ""]


def _slo_section(summary: StressSummary) -> list[str]:
    lines: list[str] = []
    if summary.goodput is None and not summary.slos:
        return lines
    lines += ["## SLOs", ""]
    gp = summary.goodput
    if gp is not None:
        share = "-" if gp.share is None else f"{gp.share * 100:.1f}%"
        limits = ", ".join(f"{k} <= {_ms(v)}" for k, v in gp.limits.items()) or "none"
        lines += [f"Goodput: {gp.good}/{gp.requests} ({share}) with per-request {limits}.", ""]
    if summary.slos:
        rows = [
            (r.name, _ms(r.measured), _ms(r.limit), "pass" if r.passed else "FAIL", r.note)
            for r in summary.slos
        ]
        lines += [*md_table(["SLO", "measured", "limit", "result", "note"], rows), ""]
    return lines


def _errors_section(summary: StressSummary) -> list[str]:
    failing = [(name, count) for name, count in summary.errors.items() if count]
    if not failing:
        return ["## Errors", "", "none", ""]
    return ["## Errors", "", *md_table(["class", "count"], failing), ""]


def _custom_table(key: str, rows: list[dict[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    lines = [f"## {_title(key)}", ""]
    if not rows:
        return [*lines, "(empty)", ""]
    header = list(columns)
    body = ([row.get(c) for c in header] for row in rows)
    return [*lines, *md_table(header, body), ""]


def render_markdown(stats: TestStats) -> str:
    """The run as a Markdown document."""
    summary = stats.summary
    server = ", ".join(f"{k}={fmt_value(v)}" for k, v in stats.server.items()) or "-"
    lines = [f"# Stress: {stats.mode}", ""]
    if stats.bottleneck is not None:
        lines += [f"**{stats.bottleneck}**", ""]
    cache = cache_note(summary.prompt_cache, stats.params.get("shared_prefix_tokens"))
    if cache is not None:
        lines += [f"**{cache}**", ""]
    lines += [
        f"Server: {server}; model: {stats.model}",
        "",
        "## Parameters",
        "",
        *md_table(["parameter", "value"], sorted(stats.params.items())),
        "",
        f"Requests: {summary.ok} ok, {summary.failed} failed, {summary.warmup} warm-up; "
        f"wall time {stats.wall_s:.1f} s",
        "",
    ]
    if stats.interrupted:
        lines += [
            "**Interrupted:** the run was stopped early; figures cover its records so far",
            "",
        ]
    suspect = suspect_note(summary)
    if suspect is not None:
        lines += [f"**Suspect server figures:** {suspect}.", ""]
    if stats.client_bound:
        lines += [
            f"**Warning:** client event loop lag p99 {_ms(stats.loop_lag_p99_s)}: "
            "the client is a bottleneck; timings are inflated",
            "",
        ]
    lines += [
        f"Client event loop lag: p99 {_ms(stats.loop_lag_p99_s)}, max {_ms(stats.loop_lag_max_s)}",
        "",
    ]
    lines += _percentile_section(summary)
    lines += _throughput_section(summary)
    lines += _slo_section(summary)
    lines += _errors_section(summary)
    for key, rows in stats.tables.items():
        lines += _custom_table(key, rows)
    if stats.figures:
        lines += ["## Figures", "", *md_table(["figure", "value"], stats.figures.items()), ""]
    if stats.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in stats.notes), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- files


def to_json(stats: TestStats) -> dict[str, Any]:
    """The run as a JSON-ready dict carrying ``schema_version``."""
    return {"schema_version": SCHEMA_VERSION, **stats.to_dict()}


def report_stem(stats: TestStats) -> str:
    """``stress-<mode>``, plus ``-<id>`` when ``stats.params["id"]`` is a non-empty string."""
    stem = f"stress-{slug(stats.mode, '-', default='run')}"
    run_id = stats.params.get("id")
    if isinstance(run_id, str):
        safe = slug(run_id, "-", max_len=_ID_MAX_CHARS)
        if safe:
            stem += f"-{safe}"
    return stem


def free_stem(stats: TestStats, directory: Path) -> str:
    """``report_stem(stats)``, with ``-2``, ``-3`` ... appended until no report has the name."""
    base = report_stem(stats)
    stem, counter = base, 1
    while (directory / f"{stem}.md").exists() or (directory / f"{stem}.json").exists():
        counter += 1
        stem = f"{base}-{counter}"
    return stem


def write_stress_report(
    stats: TestStats,
    directory: Path,
    *,
    stem: str | None = None,
    extra_lines: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write ``<stem>.md`` (with ``extra_lines`` appended) and ``<stem>.json`` to
    ``directory``; return (markdown, json). The stem defaults to ``free_stem``."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = stem or free_stem(stats, directory)
    md_path = directory / f"{stem}.md"
    json_path = directory / f"{stem}.json"
    text = render_markdown(stats)
    if extra_lines:
        text += "\n" + "\n".join(extra_lines).rstrip("\n") + "\n"
    md_path.write_text(text, encoding="utf-8")
    json_path.write_text(json.dumps(to_json(stats), indent=2, default=str) + "\n", encoding="utf-8")
    return md_path, json_path
