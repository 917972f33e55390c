"""Charts in a Markdown report: image links relative to the report's folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pytest_llmserver.report.charts.base import Chart, charts_available


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
            "Charts skipped: matplotlib is not installed (the `plots` extra: "
            "`pip install matplotlib`, or `pip install -e '.[plots]'` in a checkout).",
            "",
        ]
    return []
