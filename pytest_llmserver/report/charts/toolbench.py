"""The tool bench chart: pass@1 and pass^k per tier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pytest_llmserver.report.charts.base import (
    Chart,
    figure_class,
    legend_below,
    new_figure,
    row_number,
    save,
)

TOOLBENCH_TITLE = "Tool-calling pass rates per tier"


def tier_rows(summary: object) -> list[tuple[str, float | None, float | None]]:
    """``(tick label, pass@1 %, pass^k %)`` per usable row, the ``all`` row moved last."""
    if not isinstance(summary, Sequence) or isinstance(summary, (str, bytes)):
        return []
    tiers: list[tuple[str, float | None, float | None]] = []
    total: list[tuple[str, float | None, float | None]] = []
    for row in summary:
        if not isinstance(row, Mapping) or not isinstance(row.get("tier"), str):
            continue
        tier: str = row["tier"]
        first, every = row_number(row, "pass_at_1"), row_number(row, "pass_all")
        if first is None and every is None:
            continue
        tasks = row.get("tasks")
        label = (
            f"{tier} ({tasks})" if isinstance(tasks, int) and not isinstance(tasks, bool) else tier
        )
        entry = (
            label,
            None if first is None else first * 100.0,
            None if every is None else every * 100.0,
        )
        (total if tier == "all" else tiers).append(entry)
    return tiers + total


def toolbench_chart(summary: Sequence[Mapping[str, Any]], out_dir: Path, name: str) -> list[Chart]:
    """``{name}.png``: grouped bars of pass@1 and pass^k (%) per tier, the ``all`` row last;
    ``[]`` when no row has a tier and a pass rate."""
    figure = figure_class()
    if figure is None:
        return []
    rows = tier_rows(summary)
    if not rows:
        return []
    fig = new_figure(figure)
    ax = fig.add_subplot()
    where = np.arange(len(rows), dtype=np.float64)
    width = 0.38
    firsts = [np.nan if row[1] is None else row[1] for row in rows]
    everies = [np.nan if row[2] is None else row[2] for row in rows]
    for offset, heights, label, color in (
        (-width / 2, firsts, "pass@1", "tab:blue"),
        (width / 2, everies, "pass^k (every run passes)", "tab:green"),
    ):
        bars = ax.bar(where + offset, heights, width, label=label, color=color)
        ax.bar_label(bars, fmt="%.0f", fontsize=8, padding=2)
    ax.set_xticks(where, [row[0] for row in rows])
    ax.set_xlabel("tier (tasks)")
    ax.set_ylabel("tasks passed (%)")
    ax.set_ylim(0, 110)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(TOOLBENCH_TITLE)
    legend_below(fig, ax)
    return [save(fig, out_dir, f"{name}.png", TOOLBENCH_TITLE)]
