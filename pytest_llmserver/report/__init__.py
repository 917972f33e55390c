"""Reports under ``logs/``: one directory per run."""

from pytest_llmserver.report.charts import (
    Chart,
    chart_section,
    stress_charts,
    sweep_chart,
    toolbench_chart,
)
from pytest_llmserver.report.discovery import (
    choice_lines,
    describe,
    scan_progress_text,
    server_table,
)
from pytest_llmserver.report.results import (
    ArenaEntry,
    RunResults,
    StressEntry,
    ToolbenchEntry,
    write_results,
)
from pytest_llmserver.report.rundir import make_run_dir
from pytest_llmserver.report.runlog import (
    close_logger,
    log_request_error,
    log_test_summary,
    setup_logger,
)

__all__ = [
    "ArenaEntry",
    "Chart",
    "RunResults",
    "StressEntry",
    "ToolbenchEntry",
    "chart_section",
    "choice_lines",
    "close_logger",
    "describe",
    "log_request_error",
    "log_test_summary",
    "make_run_dir",
    "scan_progress_text",
    "server_table",
    "setup_logger",
    "stress_charts",
    "sweep_chart",
    "toolbench_chart",
    "write_results",
]
