"""The chart of a run's server metrics: the server's running and waiting requests and its
KV-cache use on the same time axis as the client's TTFT (from the series next to the
records)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmserver.report.charts.base import (
    WIDE_FIGSIZE,
    Chart,
    integer_ticks,
    legend_below,
    ms,
    new_figure,
    save,
)
from pytest_llmserver.servermetrics import gauge_points, read_series, series_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SERVER_TITLE = "Server queue and KV cache against client TTFT"


def server_metrics_chart(
    figure: type[Figure],
    records_path: Path,
    ttft_points: Sequence[tuple[float, float]],
    out_dir: Path,
    file_name: str,
) -> Chart | None:
    """Client TTFT (by send time) over the first Prometheus endpoint's running and waiting
    requests, and its KV-cache use below; ``None`` without a series or gauges."""
    series = read_series(series_path(records_path))
    if series is None:
        return None
    endpoint = next((e for e in series.endpoints if e.kind == "prometheus"), None)
    if endpoint is None:
        return None
    gauges = gauge_points(endpoint, series.of(endpoint.url))
    queue = {k: v for k, v in gauges.items() if k in ("running", "waiting") and v[1]}
    kv = gauges.get("kv_use")
    if not queue and not (kv and kv[1]):
        return None
    fig = new_figure(figure, (WIDE_FIGSIZE[0], 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    if ttft_points:
        size = 6.0 if len(ttft_points) < 2000 else 2.0
        top.scatter(
            [p[0] for p in ttft_points],
            ms([p[1] for p in ttft_points]),
            s=size,
            alpha=0.5,
            color="tab:blue",
            label="client TTFT",
        )
    top.set_ylabel("TTFT (ms)")
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    twin = top.twinx()
    colors = {"running": "tab:green", "waiting": "tab:red"}
    for key, (name, points) in queue.items():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        twin.step(xs, ys, where="post", color=colors[key], label=name)
    twin.set_ylabel("server requests")
    twin.set_ylim(bottom=0)
    integer_ticks(twin)
    if kv and kv[1]:
        name, points = kv
        bottom.step(
            [p[0] for p in points],
            [p[1] * 100.0 for p in points],
            where="post",
            color="tab:purple",
            label=name,
        )
        bottom.set_ylim(0, 100)
    else:
        bottom.text(
            0.5, 0.5, "no KV-cache series", ha="center", va="center", transform=bottom.transAxes
        )
    bottom.set_ylabel("KV cache use (%)")
    bottom.set_xlabel("time since start (s)")
    bottom.grid(True, alpha=0.3)
    top.set_title(SERVER_TITLE)
    legend_below(fig, top, twin, bottom)
    return save(fig, out_dir, file_name, SERVER_TITLE)
