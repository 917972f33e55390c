"""PNG charts for the Markdown reports, drawn with matplotlib when it is installed: one module
per chart family (``stress``, ``sweep``, ``toolbench``) over a shared ``base``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.report.charts.base import Chart, charts_available
    from pytest_llmserver.report.charts.markdown import chart_markdown, chart_section
    from pytest_llmserver.report.charts.stress import stress_charts
    from pytest_llmserver.report.charts.sweep import sweep_chart
    from pytest_llmserver.report.charts.toolbench import toolbench_chart

__all__ = [
    "Chart",
    "chart_markdown",
    "chart_section",
    "charts_available",
    "stress_charts",
    "sweep_chart",
    "toolbench_chart",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "base": "Chart charts_available",
            "markdown": "chart_markdown chart_section",
            "stress": "stress_charts",
            "sweep": "sweep_chart",
            "toolbench": "toolbench_chart",
        },
    )
