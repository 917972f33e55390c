"""What every chart shares: optional matplotlib, the ``Chart`` record, figure and axis helpers,
and the reading of odd numbers.

matplotlib is optional: it is imported inside the functions, and every chart function returns
an empty list when it is missing. Only the object-oriented API is used (no ``pyplot``, no global
state). Odd data (missing keys, ``None``, NaN, empty lists, a single point) is skipped, never
raised on; errors writing the PNG files (``OSError``) propagate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FloatArray = npt.NDArray[np.float64]

MAX_MAGNITUDE = 1e15
"""Numbers beyond this (in seconds, tokens or tokens/s) are garbage and skipped."""

FIGSIZE = (8.0, 4.5)
WIDE_FIGSIZE = (10.0, 4.5)
DPI = 100


@dataclass(frozen=True)
class Chart:
    """One PNG chart written to disk."""

    title: str
    path: Path


# --------------------------------------------------------------------------- matplotlib


def figure_class() -> type[Figure] | None:
    """matplotlib's ``Figure`` class; ``None`` when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401  (the package itself, so a blocked parent is noticed)
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def charts_available() -> bool:
    """Whether matplotlib imports, so charts can be drawn."""
    return figure_class() is not None


def new_figure(figure: type[Figure], size: tuple[float, float] = FIGSIZE) -> Figure:
    """An empty figure of ``size`` inches at ``DPI``, laid out by matplotlib's constraint solver."""
    return figure(figsize=size, dpi=DPI, layout="constrained")


def save(fig: Figure, out_dir: Path, file_name: str, title: str) -> Chart:
    """Write ``fig`` as ``out_dir/file_name`` and describe it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name
    fig.savefig(path, dpi=DPI, format="png")
    return Chart(title=title, path=path)


def integer_ticks(ax: Axes) -> None:
    """Only whole numbers on the y axis."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def spread_x(ax: Axes, xs: Sequence[float]) -> None:
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


def ms_axis(
    ax: Axes,
    lines: Sequence[tuple[Sequence[tuple[float, float]], str, str]],
    ylabel: str,
    linestyle: str,
) -> Axes:
    """A right-hand axis in ms from 0, with a square-marked line per ``(points (x, seconds),
    label, color)`` that has points."""
    twin = ax.twinx()
    for points, label, color in lines:
        if points:
            twin.plot(
                [p[0] for p in points],
                ms([p[1] for p in points]),
                marker="s",
                linestyle=linestyle,
                color=color,
                label=label,
            )
    twin.set_ylabel(ylabel)
    twin.set_ylim(bottom=0)
    return twin


def legend_below(fig: Figure, *axes: Axes) -> None:
    """One legend under the figure, in one row, for the labelled artists of ``axes``."""
    handles, labels = [], []
    for ax in axes:
        more_handles, more_labels = ax.get_legend_handles_labels()
        handles += more_handles
        labels += more_labels
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))


# --------------------------------------------------------------------------- numbers


def number(value: object) -> float | None:
    """``value`` as a float of magnitude at most ``MAX_MAGNITUDE``; ``None`` for anything else
    (bools, NaN and infinities included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        result = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return result if abs(result) <= MAX_MAGNITUDE else None


def row_number(row: object, key: str) -> float | None:
    """``number(row[key])`` when ``row`` is a mapping; ``None`` otherwise."""
    return number(row.get(key)) if isinstance(row, Mapping) else None


def ms(values: Sequence[float]) -> FloatArray:
    """Seconds as milliseconds."""
    return np.asarray(values, dtype=np.float64) * 1000.0
