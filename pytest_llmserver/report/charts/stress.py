"""Charts of one stress run, read from its records: latency over time with the in-flight curve,
TTFT and ITL distributions, and (mode ``token_stress``) prefill speed against prompt length."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_llmserver.report.charts.base import (
    WIDE_FIGSIZE,
    Chart,
    figure_class,
    integer_ticks,
    legend_below,
    ms,
    ms_axis,
    new_figure,
    number,
    row_number,
    save,
    spread_x,
)
from pytest_llmserver.report.charts.samplers import NumberSample, Occupancy, Sample
from pytest_llmserver.report.charts.servermetrics import server_metrics_chart
from pytest_llmserver.stress import read_records

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

HIST_BINS = 40

LATENCY_TITLE = "Latency over time"
DISTRIBUTIONS_TITLE = "TTFT and ITL distributions"
PREFILL_TITLE = "Prefill speed against prompt length"


@dataclass
class RecordSeries:
    """What the stress charts need from a records file, thinned to ``MAX_POINTS`` per series."""

    ttft_points: Sample[tuple[float, float]] = field(default_factory=Sample)
    e2e_points: Sample[tuple[float, float]] = field(default_factory=Sample)
    failed_at: Sample[float] = field(default_factory=Sample)
    ttft: Sample[float] = field(default_factory=Sample)
    itl: NumberSample = field(default_factory=NumberSample)
    occupancy: Occupancy = field(default_factory=Occupancy)
    measured: int = 0


def stress_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of ``path`` through the stress package's one reader; a line that is not a
    record is skipped (a chart is never worth failing a report over), and no file gives no
    records (charts that need none are still drawn)."""
    if path.is_file():
        yield from read_records(path, skip_invalid=True)


def read_series(path: Path) -> RecordSeries:
    """The chart series of the measured (non-warm-up) records of ``path``."""
    series = RecordSeries()
    for record in stress_records(path):
        if record.get("warmup"):
            continue
        series.measured += 1
        sent, end = number(record.get("sent_s")), number(record.get("end_s"))
        e2e = number(record.get("e2e_s"))
        if end is None and sent is not None and e2e is not None:
            end = sent + e2e
        if sent is not None and end is not None:
            series.occupancy.add(sent, end)
        if record.get("ok") is not True:
            at = end if end is not None else sent
            if at is not None:
                series.failed_at.add(at)
            continue
        ttft = number(record.get("ttft_s"))
        if ttft is not None:
            series.ttft.add(ttft)
            if sent is not None:
                series.ttft_points.add((sent, ttft))
        if e2e is not None and sent is not None:
            series.e2e_points.add((sent, e2e))
        gaps = record.get("itl_s")
        if isinstance(gaps, list):
            series.itl.add_numbers(gaps)
    return series


def stress_charts(
    records_path: Path, stats: dict[str, Any], out_dir: Path, stem: str
) -> list[Chart]:
    """Charts of one stress run: ``{stem}-latency.png``, ``{stem}-distributions.png``,
    ``{stem}-server.png`` (server metrics scraped during the run) and, for mode
    ``token_stress``, ``{stem}-prefill.png``; each only when there is data to draw."""
    figure = figure_class()
    if figure is None:
        return []
    stats = stats if isinstance(stats, Mapping) else {}
    series = read_series(records_path)
    drawn = [
        _latency_chart(figure, series, out_dir, f"{stem}-latency.png"),
        _distributions_chart(figure, series, out_dir, f"{stem}-distributions.png"),
    ]
    server = server_metrics_chart(
        figure, records_path, series.ttft_points.items, out_dir, f"{stem}-server.png"
    )
    drawn.append(server)
    if stats.get("mode") == "token_stress":
        tables = stats.get("tables")
        rows = tables.get("sizes") if isinstance(tables, Mapping) else None
        if isinstance(rows, Sequence) and not isinstance(rows, (str, bytes)):
            drawn.append(_prefill_chart(figure, rows, out_dir, f"{stem}-prefill.png"))
    if stats.get("mode") == "sweep":
        from pytest_llmserver.report.charts.sweep import sweep_mode_charts

        tables = stats.get("tables")
        rows = tables.get("sweep") if isinstance(tables, Mapping) else None
        if isinstance(rows, Sequence) and not isinstance(rows, (str, bytes)):
            drawn += sweep_mode_charts(rows, out_dir, stem)
    return [chart for chart in drawn if chart is not None]


def _latency_chart(
    figure: type[Figure], series: RecordSeries, out_dir: Path, file_name: str
) -> Chart | None:
    curve = series.occupancy.curve()
    ttft, e2e, failed = series.ttft_points.items, series.e2e_points.items, series.failed_at.items
    if not (ttft or e2e or failed or curve):
        return None
    fig = new_figure(figure)
    ax = fig.add_subplot()
    size = 6.0 if max(len(ttft), len(e2e)) < 2000 else 2.0
    if e2e:
        ax.scatter([p[0] for p in e2e], ms([p[1] for p in e2e]), s=size, alpha=0.6, label="E2E")
    if ttft:
        ttft_ms = ms([p[1] for p in ttft])
        ax.scatter([p[0] for p in ttft], ttft_ms, s=size, alpha=0.6, label="TTFT")
    if failed:
        ax.scatter(
            failed,
            np.zeros(len(failed)),
            marker="x",
            color="red",
            s=30,
            label="failed (at end time)",
            zorder=3,
        )
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    axes = [ax]
    if curve is not None:
        edges, values = curve
        twin = ax.twinx()
        twin.stairs(values, edges, color="grey", alpha=0.7, label="in flight (mean per bin)")
        twin.set_ylabel("requests in flight")
        twin.set_ylim(bottom=0)
        integer_ticks(twin)
        axes.append(twin)
    ax.set_title(LATENCY_TITLE)
    legend_below(fig, *axes)
    return save(fig, out_dir, file_name, LATENCY_TITLE)


def _histogram(ax: Axes, values_s: Sequence[float], name: str) -> None:
    """Histogram of ``values_s`` in ms with p50/p95 lines, or a note when there are none."""
    ax.set_title(f"{name} ({len(values_s)} samples)" if values_s else name)
    ax.set_xlabel(f"{name} (ms)")
    ax.set_ylabel("count")
    if not values_s:
        ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        return
    values = ms(values_s)
    ax.hist(values, bins=HIST_BINS, color="tab:blue", alpha=0.75)
    p50, p95 = (float(p) for p in np.percentile(values, [50, 95], method="linear"))
    ax.axvline(p50, color="black", linestyle="--", label=f"p50 {p50:.1f} ms")
    ax.axvline(p95, color="red", linestyle="--", label=f"p95 {p95:.1f} ms")
    ax.legend(loc="upper right")
    ax.grid(True, alpha=0.3)


def _distributions_chart(
    figure: type[Figure], series: RecordSeries, out_dir: Path, file_name: str
) -> Chart | None:
    if not (series.ttft.items or series.itl.items):
        return None
    fig = new_figure(figure, WIDE_FIGSIZE)
    _histogram(fig.add_subplot(1, 2, 1), series.ttft.items, "TTFT")
    _histogram(fig.add_subplot(1, 2, 2), series.itl.items, "ITL")
    fig.suptitle(DISTRIBUTIONS_TITLE)
    return save(fig, out_dir, file_name, DISTRIBUTIONS_TITLE)


def _prefill_chart(
    figure: type[Figure], rows: Sequence[object], out_dir: Path, file_name: str
) -> Chart | None:
    points: list[tuple[float, float, float | None]] = []
    for row in rows:
        tokens, speed = row_number(row, "prompt_tokens"), row_number(row, "prefill_tps")
        if tokens is not None and speed is not None and tokens > 0:
            points.append((tokens, speed, row_number(row, "ttft_s")))
    if not points:
        return None
    points.sort(key=lambda p: p[0])
    tokens_axis = [p[0] for p in points]
    fig = new_figure(figure)
    ax = fig.add_subplot()
    ax.plot(tokens_axis, [p[1] for p in points], marker="o", label="prefill speed")
    ax.set_xlabel("prompt length (tokens)")
    ax.set_ylabel("prefill speed (tokens/s)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    spread_x(ax, tokens_axis)
    axes = [ax]
    timed = [(p[0], ttft) for p in points if (ttft := p[2]) is not None]
    if timed:
        axes.append(ms_axis(ax, [(timed, "TTFT", "tab:orange")], "TTFT (ms)", ":"))
    ax.set_title(PREFILL_TITLE)
    legend_below(fig, *axes)
    return save(fig, out_dir, file_name, PREFILL_TITLE)
