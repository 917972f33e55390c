"""Load generation, per-request records and statistics for the stress modes.

The names in ``__all__`` are this package's contract; other packages import only these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.stress.capacity import ClientCapacity, calibrate, measure_capacity
    from pytest_llmserver.stress.combine import merge_worker_results
    from pytest_llmserver.stress.dataset import (
        BUNDLED_DATASET,
        Dataset,
        DatasetError,
        PromptRow,
        load_dataset,
    )
    from pytest_llmserver.stress.engine import run_closed_loop, run_open_loop, run_warmup
    from pytest_llmserver.stress.lengths import TokenLengths, WorkloadError
    from pytest_llmserver.stress.meeting import MeetingService, meet
    from pytest_llmserver.stress.modes.tester import StressTester
    from pytest_llmserver.stress.percentiles import (
        metric_table,
        min_samples,
        summarize,
    )
    from pytest_llmserver.stress.progress import RollingMedian, progress_text
    from pytest_llmserver.stress.records import (
        RECORD_FIELDS,
        TestResult,
        iter_records,
        read_records,
        read_results,
        run_records,
    )
    from pytest_llmserver.stress.report import free_stem, to_json, write_stress_report
    from pytest_llmserver.stress.result import TestStats
    from pytest_llmserver.stress.saturation import bottleneck_line, merge_figures
    from pytest_llmserver.stress.shards import merge_records, rendezvous, share
    from pytest_llmserver.stress.sink import JsonlSink
    from pytest_llmserver.stress.slo import (
        check_slos,
        goodput,
        parse_slos,
    )
    from pytest_llmserver.stress.summary import (
        drift,
        error_counts,
        summarize_file,
        summarize_records,
        suspect_note,
        throughput,
    )
    from pytest_llmserver.stress.timing import (
        ArrivalProcess,
        LoopLagMonitor,
        RunClock,
        arrival_offsets_s,
    )
    from pytest_llmserver.stress.workers import ModeCall, WorkerPool, usable_cores, worker_count
    from pytest_llmserver.stress.workload import PROFILES

__all__ = [
    "BUNDLED_DATASET",
    "PROFILES",
    "RECORD_FIELDS",
    "ArrivalProcess",
    "ClientCapacity",
    "Dataset",
    "DatasetError",
    "JsonlSink",
    "LoopLagMonitor",
    "MeetingService",
    "ModeCall",
    "PromptRow",
    "RollingMedian",
    "RunClock",
    "StressTester",
    "TestResult",
    "TestStats",
    "TokenLengths",
    "WorkerPool",
    "WorkloadError",
    "arrival_offsets_s",
    "bottleneck_line",
    "calibrate",
    "check_slos",
    "drift",
    "error_counts",
    "free_stem",
    "goodput",
    "iter_records",
    "load_dataset",
    "measure_capacity",
    "meet",
    "merge_figures",
    "merge_records",
    "merge_worker_results",
    "metric_table",
    "min_samples",
    "parse_slos",
    "progress_text",
    "read_records",
    "read_results",
    "rendezvous",
    "run_closed_loop",
    "run_open_loop",
    "run_records",
    "run_warmup",
    "share",
    "summarize",
    "summarize_file",
    "summarize_records",
    "suspect_note",
    "throughput",
    "to_json",
    "usable_cores",
    "worker_count",
    "write_stress_report",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "capacity": "ClientCapacity calibrate measure_capacity",
            "combine": "merge_worker_results",
            "dataset": "BUNDLED_DATASET Dataset DatasetError PromptRow load_dataset",
            "engine": "run_closed_loop run_open_loop run_warmup",
            "lengths": "TokenLengths WorkloadError",
            "meeting": "MeetingService meet",
            "modes.tester": "StressTester",
            "percentiles": "metric_table min_samples summarize",
            "progress": "RollingMedian progress_text",
            "records": (
                "RECORD_FIELDS TestResult iter_records read_records read_results run_records"
            ),
            "report": "free_stem to_json write_stress_report",
            "result": "TestStats",
            "saturation": "bottleneck_line merge_figures",
            "shards": "merge_records rendezvous share",
            "sink": "JsonlSink",
            "slo": "check_slos goodput parse_slos",
            "summary": (
                "drift error_counts summarize_file summarize_records suspect_note throughput"
            ),
            "timing": "ArrivalProcess LoopLagMonitor RunClock arrival_offsets_s",
            "workers": "ModeCall WorkerPool usable_cores worker_count",
            "workload": "PROFILES",
        },
    )
