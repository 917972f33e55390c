"""The terminal summary's tables: scaled units and small aligned tables, built from the run's
entries (stress tests per model, arena leaderboards, the cross-model table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_llmserver.report import ArenaEntry, StressEntry, ToolbenchEntry

STATS = ("p50", "p95", "p99")
TOOL_BENCH_MODE = "tool_bench"
"""The stress mode whose ok / failed are tasks, not requests."""


def fmt_s(seconds: float | None) -> str:
    """A duration with three significant digits: µs below 1 ms, ms below 1 s, s above."""
    if seconds is None:
        return "-"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(seconds) >= scale or unit == "µs":
            value = seconds / scale
            digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")


def fmt_triple(values: Sequence[float | None]) -> str:
    """Durations as ``a/b/c unit`` when they share a unit, else each with its own."""
    shown = [fmt_s(v) for v in values]
    units = {text.split(" ")[-1] for text in shown if text != "-"}
    if len(units) != 1:
        return "/".join(shown)
    return "/".join(text.split(" ")[0] for text in shown) + f" {units.pop()}"


def fmt_rate(value: float | None) -> str:
    """A rate with two decimals below 100, none above."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def aligned(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Rows as aligned text columns: the first ``left`` columns to the left, the rest right."""
    table = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    ]


def _step_time(entries: Sequence[StressEntry]) -> str:
    """TPOT when every entry measured it, else ITL (``TPOT|ITL`` when mixed)."""
    has_tpot = [e.metric("tpot_s", "p50") is not None for e in entries]
    return "TPOT" if all(has_tpot) else "ITL" if not any(has_tpot) else "TPOT|ITL"


def stress_counts(entry: StressEntry) -> tuple[int, int, str]:
    """Passed and failed, and what they count: tool-bench tasks or requests."""
    if entry.mode == TOOL_BENCH_MODE and "tasks_total" in entry.figures:
        total = int(entry.figures.get("tasks_total") or 0)
        passed = int(entry.figures.get("tasks_passed") or 0)
        return passed, total - passed, "tasks"
    return entry.ok, entry.failed, "req"


def stress_row(entry: StressEntry) -> list[str]:
    """One stress test: counts, req/s, output tok/s, TTFT / TPOT (or ITL) / E2E percentiles."""
    ok, failed, unit = stress_counts(entry)
    step = "tpot_s" if entry.metric("tpot_s", "p50") is not None else "itl_s"
    cells = [f"{entry.mode} {entry.id}", str(ok), str(failed), unit]
    cells += [fmt_rate(entry.rate("requests_per_s")), fmt_rate(entry.rate("output_tokens_per_s"))]
    for metric in ("ttft_s", step, "e2e_s"):
        cells.append(fmt_triple([entry.metric(metric, stat) for stat in STATS]))
    return cells


def stress_header(entries: Sequence[StressEntry]) -> list[str]:
    """The column names of ``stress_row``."""
    header = ["test", "ok", "failed", "", "req/s", "out tok/s"]
    for name in ("TTFT", _step_time(entries), "E2E"):
        header.append(f"{name} {'/'.join(STATS)}")
    return header


def arena_lines(arena: ArenaEntry) -> list[str]:
    """The arena's leaderboard in its own order (rank, win rate, W/L/T, mean judge score)."""
    rows = []
    for rank, row in enumerate(arena.leaderboard, 1):
        rate = row.get("win_rate")
        score = row.get("mean_score")
        name = str(row.get("contestant"))
        label = arena.labels.get(name)
        rows.append(
            [
                str(rank),
                name if not label or label == name else f"{name} ({label})",
                "-" if rate is None else f"{rate:.0%}",
                f"{row.get('wins', 0)}/{row.get('losses', 0)}/{row.get('ties', 0)}",
                "-" if score is None else f"{score:.1f}",
                str(row.get("unparseable", 0)),
            ]
        )
    header = ["#", "contestant", "win rate", "W/L/T", "mean score", "unreadable"]
    return aligned(header, rows, left=2)


def _best(values: Sequence[float | None], pick: Any) -> float | None:
    known = [v for v in values if v is not None]
    return pick(known) if known else None


def cross_model_lines(
    stress: Sequence[StressEntry], toolbench: Sequence[ToolbenchEntry]
) -> list[str]:
    """One row per model with its headline figures, when more than one model ran (else [])."""
    models = sorted({e.model for e in stress} | {b.model for b in toolbench})
    if len(models) < 2:
        return []
    rows = []
    for model in models:
        mine = [e for e in stress if e.model == model]
        bench = next((b for b in toolbench if b.model == model), None)
        overall = (bench.summary[-1] if bench and bench.summary else {}).get("pass_at_1")
        rows.append(
            [
                model,
                str(len(mine)),
                str(sum(stress_counts(e)[0] for e in mine)),
                str(sum(stress_counts(e)[1] for e in mine)),
                fmt_rate(_best([e.rate("requests_per_s") for e in mine], max)),
                fmt_rate(_best([e.rate("output_tokens_per_s") for e in mine], max)),
                fmt_s(_best([e.metric("ttft_s", "p50") for e in mine], min)),
                fmt_s(_best([e.metric("e2e_s", "p95") for e in mine], max)),
                "-" if overall is None else f"{overall:.1%}",
            ]
        )
    header = [
        "model",
        "stress tests",
        "ok",
        "failed",
        "max req/s",
        "max out tok/s",
        "min TTFT p50",
        "max E2E p95",
        "tool pass@1",
    ]
    return aligned(header, rows)
