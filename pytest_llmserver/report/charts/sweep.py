"""The concurrency sweep chart: throughput and p95 latency against concurrency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmserver.report.charts.base import (
    FIGSIZE,
    Chart,
    figure_class,
    legend_below,
    ms_axis,
    new_figure,
    row_number,
    save,
    spread_x,
)

SWEEP_TITLE = "Throughput and p95 latency against concurrency"


def sweep_points(points: object) -> list[tuple[float, Mapping[str, Any]]]:
    """``(concurrency, point)`` for each point with a positive concurrency, by concurrency."""
    if not isinstance(points, Sequence) or isinstance(points, (str, bytes)):
        return []
    usable: list[tuple[float, Mapping[str, Any]]] = []
    for point in points:
        concurrency = row_number(point, "concurrency")
        if isinstance(point, Mapping) and concurrency is not None and concurrency > 0:
            usable.append((concurrency, point))
    usable.sort(key=lambda item: item[0])
    return usable


def sweep_chart(points: Sequence[Mapping[str, Any]], out_dir: Path, name: str) -> list[Chart]:
    """``{name}.png``: throughput (tokens/s, else requests/s) and p95 TTFT/E2E (ms) against
    concurrency; ``[]`` with fewer than two usable points."""
    figure = figure_class()
    if figure is None:
        return []
    usable = sweep_points(points)
    if len(usable) < 2:
        return []

    def column(key: str) -> list[tuple[float, float]]:
        return [(c, v) for c, p in usable if (v := row_number(p, key)) is not None]

    tokens, requests = column("output_tokens_per_s"), column("requests_per_s")
    throughput, unit = (tokens, "output tokens/s") if tokens else (requests, "requests/s")
    ttft, e2e = column("ttft_p95_s"), column("e2e_p95_s")
    if not (throughput or ttft or e2e):
        return []
    fig = new_figure(figure)
    ax = fig.add_subplot()
    if throughput:
        ax.plot(
            [t[0] for t in throughput],
            [t[1] for t in throughput],
            marker="o",
            color="tab:blue",
            label=f"throughput ({unit})",
        )
    ax.set_xlabel("concurrency (requests)")
    ax.set_ylabel(f"throughput ({unit})")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    spread_x(ax, [c for c, _ in usable])
    axes = [ax]
    if ttft or e2e:
        lines = [(ttft, "TTFT p95", "tab:orange"), (e2e, "E2E p95", "tab:red")]
        axes.append(ms_axis(ax, lines, "p95 latency (ms)", "--"))
    ax.set_title(SWEEP_TITLE)
    legend_below(fig, *axes)
    return [save(fig, out_dir, f"{name}.png", SWEEP_TITLE)]


# --------------------------------------------------------------------------- the sweep mode

LOAD_TITLE = "Sweep: throughput and latency percentiles against load"
PARETO_TITLE = "Sweep: tokens/s per user against total tokens/s (Pareto)"
_LATENCY_LINES = (
    ("ttft_p50_s", "TTFT p50", "tab:orange", "-"),
    ("ttft_p95_s", "TTFT p95", "tab:orange", "--"),
    ("itl_p50_s", "ITL p50", "tab:green", "-"),
    ("itl_p95_s", "ITL p95", "tab:green", "--"),
    ("e2e_p50_s", "E2E p50", "tab:red", "-"),
    ("e2e_p95_s", "E2E p95", "tab:red", "--"),
)


def _rows_by(rows: object, key: str) -> list[tuple[float, Mapping[str, Any]]]:
    """``(row[key], row)`` for the rows with a positive ``key``, by it."""
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
        return []
    usable = [(x, row) for row in rows if (x := row_number(row, key)) is not None and x > 0]
    return sorted(usable, key=lambda item: item[0])


def sweep_mode_charts(rows: Sequence[Mapping[str, Any]], out_dir: Path, stem: str) -> list[Chart]:
    """The sweep mode's charts from its table rows: ``{stem}-load.png`` (output tokens/s and
    requests/s on the left, TTFT/ITL/E2E p50 and p95 in ms on the right, against achieved
    requests/s) and ``{stem}-pareto.png`` (median tokens/s per user against total output
    tokens/s, each point labelled); each needs two usable points."""
    figure = figure_class()
    if figure is None:
        return []
    charts: list[Chart] = []
    by_load = _rows_by(rows, "requests_per_s")
    if len(by_load) >= 2:
        fig = new_figure(figure, (FIGSIZE[0], FIGSIZE[1] * 1.5))
        top, bottom = fig.subplots(2, 1, sharex=True)
        tokens = [(x, v) for x, r in by_load if (v := row_number(r, "output_tokens_per_s"))]
        if tokens:
            top.plot(*zip(*tokens, strict=True), marker="o", color="tab:blue")
        top.set_ylabel("output tokens/s")
        top.set_ylim(bottom=0)
        top.grid(True, alpha=0.3)
        top.set_title(LOAD_TITLE)
        for key, label, color, style in _LATENCY_LINES:
            points = [(x, v * 1000) for x, r in by_load if (v := row_number(r, key)) is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                bottom.plot(xs, ys, marker="s", linestyle=style, color=color, label=label)
        bottom.set_xlabel("achieved load (requests/s)")
        bottom.set_ylabel("latency (ms)")
        bottom.set_ylim(bottom=0)
        bottom.grid(True, alpha=0.3)
        if bottom.get_legend_handles_labels()[0]:
            bottom.legend(ncols=3, fontsize="small")
        charts.append(save(fig, out_dir, f"{stem}-load.png", LOAD_TITLE))
    by_total = _rows_by(rows, "output_tokens_per_s")
    front = [(x, y, r) for x, r in by_total if (y := row_number(r, "tokens_per_s_per_user"))]
    if len(front) >= 2:
        fig = new_figure(figure)
        ax = fig.add_subplot()
        ax.plot([p[0] for p in front], [p[1] for p in front], marker="o", color="tab:purple")
        for x, y, row in front:
            ax.annotate(
                str(row.get("point", "")), (x, y), textcoords="offset points", xytext=(4, 4)
            )
        ax.set_xlabel("total output tokens/s")
        ax.set_ylabel("tokens/s per user (median decode rate)")
        ax.set_xlim(0, max(p[0] for p in front) * 1.15)
        ax.set_ylim(0, max(p[1] for p in front) * 1.15)
        ax.grid(True, alpha=0.3)
        ax.set_title(PARETO_TITLE)
        charts.append(save(fig, out_dir, f"{stem}-pareto.png", PARETO_TITLE))
    return charts
