"""PNG charts for the Markdown reports, drawn with matplotlib when it is installed.

matplotlib is optional: it is imported inside the functions, and every chart function returns
an empty list when it is missing. Only the object-oriented API is used (no ``pyplot``, no global
state). Odd data (missing keys, ``None``, NaN, empty lists, a single point) is skipped, never
raised on; errors writing the PNG files (``OSError``) propagate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

MAX_POINTS = 20_000
"""At most this many points are kept per plotted series (every k-th, k doubling as needed)."""

OCCUPANCY_BINS = 4096
"""Time bins of the in-flight curve; their width doubles whenever the run outgrows them."""

OCCUPANCY_FIRST_WIDTH_S = 0.001
"""Starting width of an in-flight time bin, in seconds."""

MAX_MAGNITUDE = 1e15
"""Numbers beyond this (in seconds, tokens or tokens/s) are garbage and skipped."""

FIGSIZE = (8.0, 4.5)
WIDE_FIGSIZE = (10.0, 4.5)
DPI = 100
HIST_BINS = 40

LATENCY_TITLE = "Latency over time"
DISTRIBUTIONS_TITLE = "TTFT and ITL distributions"
PREFILL_TITLE = "Prefill speed against prompt length"
SWEEP_TITLE = "Throughput and p95 latency against concurrency"
TOOLBENCH_TITLE = "Tool-calling pass rates per tier"


@dataclass(frozen=True)
class Chart:
    """One PNG chart written to disk."""

    title: str
    path: Path


# --------------------------------------------------------------------------- matplotlib


def _figure_class() -> type[Figure] | None:
    """matplotlib's ``Figure`` class; ``None`` when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401  (the package itself, so a blocked parent is noticed)
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def charts_available() -> bool:
    """Whether matplotlib imports, so charts can be drawn."""
    return _figure_class() is not None


def _new_figure(figure_class: type[Figure], size: tuple[float, float] = FIGSIZE) -> Figure:
    return figure_class(figsize=size, dpi=DPI, layout="constrained")


def _save(fig: Figure, out_dir: Path, file_name: str, title: str) -> Chart:
    """Write ``fig`` as ``out_dir/file_name`` and describe it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name
    fig.savefig(path, dpi=DPI, format="png")
    return Chart(title=title, path=path)


def _integer_ticks(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _spread_x(ax: Axes, xs: Sequence[float]) -> None:
    """For positive ``xs``: a log-2 x axis when they span a factor of 8 or more, and ticks at
    exactly ``xs`` when there are at most 12 distinct values."""
    ticks = sorted(set(xs))
    if not ticks or ticks[0] <= 0:
        return
    if ticks[-1] / ticks[0] >= 8:
        ax.set_xscale("log", base=2)
    if len(ticks) <= 12:
        ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
        ax.minorticks_off()


# --------------------------------------------------------------------------- data helpers


def _number(value: object) -> float | None:
    """``value`` as a float of magnitude at most ``MAX_MAGNITUDE``; ``None`` for anything else
    (bools, NaN and infinities included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if abs(number) <= MAX_MAGNITUDE else None


def _field(row: object, key: str) -> float | None:
    return _number(row.get(key)) if isinstance(row, Mapping) else None


class _Sample(Generic[T]):
    """Every ``stride``-th item offered; the stride doubles whenever more than ``cap`` are kept."""

    def __init__(self, cap: int = MAX_POINTS) -> None:
        self._cap = cap
        self._stride = 1
        self._seen = 0
        self.items: list[T] = []

    def add(self, item: T) -> None:
        if self._seen % self._stride == 0:
            self.items.append(item)
            if len(self.items) > self._cap:
                self.items = self.items[::2]
                self._stride *= 2
        self._seen += 1


class _NumberSample(_Sample[float]):
    """A ``_Sample`` of finite numbers that can take a whole list, checking only kept positions."""

    def add_numbers(self, values: Sequence[object]) -> None:
        """Offer every entry of ``values``; a kept position holding no finite number is dropped."""
        position = -self._seen % self._stride
        while position < len(values):
            number = _number(values[position])
            if number is not None:
                self.items.append(number)
                if len(self.items) > self._cap:
                    self.items = self.items[::2]
                    self._stride *= 2
            position += 1
            position += -(self._seen + position) % self._stride
        self._seen += len(values)


class _Occupancy:
    """Time-weighted mean number of requests in flight per time bin, in bounded memory."""

    def __init__(self, bins: int = OCCUPANCY_BINS, width_s: float = OCCUPANCY_FIRST_WIDTH_S):
        self._bins = bins
        self._width = width_s
        self._base = np.zeros(bins)  # request-seconds per bin, folded in at the last coarsening
        self._diff = np.zeros(bins + 1)  # difference array: bins touched by each interval
        self._trim = np.zeros(bins)  # request-seconds to remove from partly covered bins
        self._last = -1

    def add(self, start: float, end: float) -> None:
        """Count a request in flight from ``start`` to ``end`` (seconds from the run start)."""
        start = max(start, 0.0)
        if end < start:
            return
        while end >= self._bins * self._width:
            self._coarsen()
        first, last = int(start // self._width), int(end // self._width)
        first, last = min(first, self._bins - 1), min(last, self._bins - 1)
        self._diff[first] += 1.0
        self._diff[last + 1] -= 1.0
        self._trim[first] += start - first * self._width
        self._trim[last] += (last + 1) * self._width - end
        self._last = max(self._last, last)

    def _area(self) -> FloatArray:
        touched = np.cumsum(self._diff)[: self._bins]
        return self._base + touched * self._width - self._trim

    def _coarsen(self) -> None:
        merged = self._area().reshape(-1, 2).sum(axis=1)
        self._base = np.concatenate([merged, np.zeros(self._bins - merged.size)])
        self._diff = np.zeros(self._bins + 1)
        self._trim = np.zeros(self._bins)
        self._width *= 2.0
        self._last = self._last // 2 if self._last >= 0 else -1

    def curve(self) -> tuple[FloatArray, FloatArray] | None:
        """Bin edges (s) and mean in-flight count per bin; ``None`` before any request."""
        if self._last < 0:
            return None
        used = self._last + 1
        values = np.clip(self._area()[:used] / self._width, 0.0, None)
        edges = np.arange(used + 1, dtype=np.float64) * self._width
        return edges, values


@dataclass
class _RecordSeries:
    """What the stress charts need from a records file, thinned to ``MAX_POINTS`` per series."""

    ttft_points: _Sample[tuple[float, float]]
    e2e_points: _Sample[tuple[float, float]]
    failed_at: _Sample[float]
    ttft: _Sample[float]
    itl: _NumberSample
    occupancy: _Occupancy
    measured: int = 0


def _records(path: Path) -> Iterator[Mapping[str, Any]]:
    """The JSON objects of a JSONL file, line by line; other lines are skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:  # json.JSONDecodeError included
                continue
            if isinstance(record, dict):
                yield record


def _read_series(path: Path) -> _RecordSeries:
    series = _RecordSeries(
        _Sample(), _Sample(), _Sample(), _Sample(), _NumberSample(), _Occupancy()
    )
    for record in _records(path):
        if record.get("warmup"):
            continue
        series.measured += 1
        sent, end = _number(record.get("sent_s")), _number(record.get("end_s"))
        e2e = _number(record.get("e2e_s"))
        if end is None and sent is not None and e2e is not None:
            end = sent + e2e
        if sent is not None and end is not None:
            series.occupancy.add(sent, end)
        if record.get("ok") is not True:
            at = end if end is not None else sent
            if at is not None:
                series.failed_at.add(at)
            continue
        ttft = _number(record.get("ttft_s"))
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


def _ms(values: Sequence[float]) -> FloatArray:
    return np.asarray(values, dtype=np.float64) * 1000.0


# --------------------------------------------------------------------------- stress charts


def stress_charts(
    records_path: Path, stats: dict[str, Any], out_dir: Path, stem: str
) -> list[Chart]:
    """Charts of one stress run: ``{stem}-latency.png``, ``{stem}-distributions.png`` and, for
    mode ``token_stress``, ``{stem}-prefill.png``; each only when there is data to draw."""
    figure_class = _figure_class()
    if figure_class is None:
        return []
    stats = stats if isinstance(stats, Mapping) else {}
    mode = stats.get("mode")
    series = _read_series(records_path)
    charts: list[Chart] = []
    latency = _latency_chart(figure_class, series, out_dir, f"{stem}-latency.png")
    if latency is not None:
        charts.append(latency)
    spread = _distributions_chart(figure_class, series, out_dir, f"{stem}-distributions.png")
    if spread is not None:
        charts.append(spread)
    if mode == "token_stress":
        tables = stats.get("tables")
        rows = tables.get("sizes") if isinstance(tables, Mapping) else None
        if isinstance(rows, Sequence) and not isinstance(rows, (str, bytes)):
            prefill = _prefill_chart(figure_class, rows, out_dir, f"{stem}-prefill.png")
            if prefill is not None:
                charts.append(prefill)
    return charts


def _latency_chart(
    figure_class: type[Figure], series: _RecordSeries, out_dir: Path, file_name: str
) -> Chart | None:
    curve = series.occupancy.curve()
    ttft, e2e, failed = series.ttft_points.items, series.e2e_points.items, series.failed_at.items
    if not (ttft or e2e or failed or curve):
        return None
    fig = _new_figure(figure_class)
    ax = fig.add_subplot()
    size = 6.0 if max(len(ttft), len(e2e)) < 2000 else 2.0
    if e2e:
        ax.scatter([p[0] for p in e2e], _ms([p[1] for p in e2e]), s=size, alpha=0.6, label="E2E")
    if ttft:
        ttft_ms = _ms([p[1] for p in ttft])
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
    if curve is not None:
        edges, values = curve
        twin = ax.twinx()
        twin.stairs(values, edges, color="grey", alpha=0.7, label="in flight (mean per bin)")
        twin.set_ylabel("requests in flight")
        twin.set_ylim(bottom=0)
        _integer_ticks(twin)
        handles, labels = ax.get_legend_handles_labels()
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    else:
        handles, labels = ax.get_legend_handles_labels()
    ax.set_title(LATENCY_TITLE)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))
    return _save(fig, out_dir, file_name, LATENCY_TITLE)


def _histogram(ax: Axes, values_s: Sequence[float], name: str) -> None:
    """Histogram of ``values_s`` in ms with p50/p95 lines, or a note when there are none."""
    ax.set_title(f"{name} ({len(values_s)} samples)" if values_s else name)
    ax.set_xlabel(f"{name} (ms)")
    ax.set_ylabel("count")
    if not values_s:
        ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        return
    values = _ms(values_s)
    ax.hist(values, bins=HIST_BINS, color="tab:blue", alpha=0.75)
    p50, p95 = (float(p) for p in np.percentile(values, [50, 95], method="linear"))
    ax.axvline(p50, color="black", linestyle="--", label=f"p50 {p50:.1f} ms")
    ax.axvline(p95, color="red", linestyle="--", label=f"p95 {p95:.1f} ms")
    ax.legend(loc="upper right")
    ax.grid(True, alpha=0.3)


def _distributions_chart(
    figure_class: type[Figure], series: _RecordSeries, out_dir: Path, file_name: str
) -> Chart | None:
    if not (series.ttft.items or series.itl.items):
        return None
    fig = _new_figure(figure_class, WIDE_FIGSIZE)
    _histogram(fig.add_subplot(1, 2, 1), series.ttft.items, "TTFT")
    _histogram(fig.add_subplot(1, 2, 2), series.itl.items, "ITL")
    fig.suptitle(DISTRIBUTIONS_TITLE)
    return _save(fig, out_dir, file_name, DISTRIBUTIONS_TITLE)


def _prefill_chart(
    figure_class: type[Figure], rows: Sequence[object], out_dir: Path, file_name: str
) -> Chart | None:
    points: list[tuple[float, float, float | None]] = []
    for row in rows:
        tokens, speed = _field(row, "prompt_tokens"), _field(row, "prefill_tps")
        if tokens is not None and speed is not None and tokens > 0:
            points.append((tokens, speed, _field(row, "ttft_s")))
    if not points:
        return None
    points.sort(key=lambda p: p[0])
    tokens_axis = [p[0] for p in points]
    fig = _new_figure(figure_class)
    ax = fig.add_subplot()
    ax.plot(tokens_axis, [p[1] for p in points], marker="o", label="prefill speed")
    ax.set_xlabel("prompt length (tokens)")
    ax.set_ylabel("prefill speed (tokens/s)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    _spread_x(ax, tokens_axis)
    handles, labels = ax.get_legend_handles_labels()
    timed = [(p[0], p[2]) for p in points if p[2] is not None]
    if timed:
        twin = ax.twinx()
        twin.plot(
            [t[0] for t in timed],
            _ms([t[1] for t in timed]),
            marker="s",
            linestyle=":",
            color="tab:orange",
            label="TTFT",
        )
        twin.set_ylabel("TTFT (ms)")
        twin.set_ylim(bottom=0)
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.set_title(PREFILL_TITLE)
    fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))
    return _save(fig, out_dir, file_name, PREFILL_TITLE)


# --------------------------------------------------------------------------- sweep


def _sweep_points(points: object) -> list[tuple[float, Mapping[str, Any]]]:
    """``(concurrency, point)`` for each point with a positive concurrency, by concurrency."""
    if not isinstance(points, Sequence) or isinstance(points, (str, bytes)):
        return []
    usable: list[tuple[float, Mapping[str, Any]]] = []
    for point in points:
        concurrency = _field(point, "concurrency")
        if isinstance(point, Mapping) and concurrency is not None and concurrency > 0:
            usable.append((concurrency, point))
    usable.sort(key=lambda item: item[0])
    return usable


def sweep_chart(points: Sequence[Mapping[str, Any]], out_dir: Path, name: str) -> list[Chart]:
    """``{name}.png``: throughput (tokens/s, else requests/s) and p95 TTFT/E2E (ms) against
    concurrency; ``[]`` with fewer than two usable points."""
    figure_class = _figure_class()
    if figure_class is None:
        return []
    usable = _sweep_points(points)
    if len(usable) < 2:
        return []
    tokens = [(c, v) for c, p in usable if (v := _field(p, "output_tokens_per_s")) is not None]
    requests = [(c, v) for c, p in usable if (v := _field(p, "requests_per_s")) is not None]
    throughput, unit = (tokens, "output tokens/s") if tokens else (requests, "requests/s")
    ttft = [(c, v) for c, p in usable if (v := _field(p, "ttft_p95_s")) is not None]
    e2e = [(c, v) for c, p in usable if (v := _field(p, "e2e_p95_s")) is not None]
    if not (throughput or ttft or e2e):
        return []
    fig = _new_figure(figure_class)
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
    _spread_x(ax, [c for c, _ in usable])
    handles, labels = ax.get_legend_handles_labels()
    if ttft or e2e:
        twin = ax.twinx()
        for latency, label, color in (
            (ttft, "TTFT p95", "tab:orange"),
            (e2e, "E2E p95", "tab:red"),
        ):
            if latency:
                twin.plot(
                    [t[0] for t in latency],
                    _ms([t[1] for t in latency]),
                    marker="s",
                    linestyle="--",
                    color=color,
                    label=label,
                )
        twin.set_ylabel("p95 latency (ms)")
        twin.set_ylim(bottom=0)
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.set_title(SWEEP_TITLE)
    fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))
    return [_save(fig, out_dir, f"{name}.png", SWEEP_TITLE)]


# --------------------------------------------------------------------------- tool bench


def _tier_rows(summary: object) -> list[tuple[str, float | None, float | None]]:
    """``(tick label, pass@1 %, pass^k %)`` per usable row, the ``all`` row moved last."""
    if not isinstance(summary, Sequence) or isinstance(summary, (str, bytes)):
        return []
    tiers: list[tuple[str, float | None, float | None]] = []
    total: list[tuple[str, float | None, float | None]] = []
    for row in summary:
        if not isinstance(row, Mapping) or not isinstance(row.get("tier"), str):
            continue
        tier: str = row["tier"]
        first, every = _field(row, "pass_at_1"), _field(row, "pass_all")
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
    figure_class = _figure_class()
    if figure_class is None:
        return []
    rows = _tier_rows(summary)
    if not rows:
        return []
    fig = _new_figure(figure_class)
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
    fig.legend(loc="outside lower center", ncols=2)
    return [_save(fig, out_dir, f"{name}.png", TOOLBENCH_TITLE)]


# --------------------------------------------------------------------------- markdown


def chart_markdown(charts: Sequence[Chart], relative_to: Path) -> list[str]:
    """Markdown lines ``![title](path)`` each followed by a blank line; ``path`` is relative to
    ``relative_to`` (the folder of the Markdown file) with ``/`` separators."""
    lines: list[str] = []
    for chart in charts:
        try:
            target = Path(os.path.relpath(chart.path, relative_to)).as_posix()
        except ValueError:  # another drive on Windows
            target = chart.path.as_posix()
        if any(ch.isspace() or ch in "()" for ch in target):
            target = f"<{target}>"
        title = chart.title.replace("[", "\\[").replace("]", "\\]")
        lines.extend([f"![{title}]({target})", ""])
    return lines


def chart_section(charts: Sequence[Chart], relative_to: Path) -> list[str]:
    """``chart_markdown`` of the charts, or a one-line note when matplotlib is missing."""
    if charts:
        return chart_markdown(charts, relative_to)
    if not charts_available():
        return [
            "Charts skipped: matplotlib is not installed "
            "(`pip install 'pytest-llmserver[plots]'`).",
            "",
        ]
    return []
