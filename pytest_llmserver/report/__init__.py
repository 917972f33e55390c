"""Reports under ``logs/``: one directory per run, its charts, run log and saved transcripts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.report.brief import answers_section, server_summary
    from pytest_llmserver.report.charts import (
        Chart,
        chart_markdown,
        chart_section,
        charts_available,
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
        log_vllm_error,
        setup_logger,
    )
    from pytest_llmserver.report.transcripts import (
        FORMAT,
        ChatHistoryManager,
        HistoryError,
        HistoryWarning,
        TranscriptInfo,
    )

__all__ = [
    "FORMAT",
    "ArenaEntry",
    "Chart",
    "ChatHistoryManager",
    "HistoryError",
    "HistoryWarning",
    "RunResults",
    "StressEntry",
    "ToolbenchEntry",
    "TranscriptInfo",
    "answers_section",
    "chart_markdown",
    "chart_section",
    "charts_available",
    "choice_lines",
    "close_logger",
    "describe",
    "log_request_error",
    "log_test_summary",
    "log_vllm_error",
    "make_run_dir",
    "scan_progress_text",
    "server_summary",
    "server_table",
    "setup_logger",
    "stress_charts",
    "sweep_chart",
    "toolbench_chart",
    "write_results",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "brief": "answers_section server_summary",
            "charts": (
                "Chart chart_markdown chart_section charts_available stress_charts sweep_chart "
                "toolbench_chart"
            ),
            "discovery": "choice_lines describe scan_progress_text server_table",
            "results": "ArenaEntry RunResults StressEntry ToolbenchEntry write_results",
            "rundir": "make_run_dir",
            "runlog": "close_logger log_request_error log_test_summary log_vllm_error setup_logger",
            "transcripts": "FORMAT ChatHistoryManager HistoryError HistoryWarning TranscriptInfo",
        },
    )
