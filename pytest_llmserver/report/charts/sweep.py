"""The concurrency sweep chart: throughput and p95 latency against concurrency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmserver.report.charts.base import (
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
