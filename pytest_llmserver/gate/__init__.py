"""The regression gate: model fingerprints, baselines, the statistics that compare runs, and the
gate of one run that applies them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.gate.baseline import (
        ToolbenchComparison,
        baseline_document,
        baseline_file,
        comparison_lines,
        load_baseline,
        samples_from_records,
        save_baseline,
    )
    from pytest_llmserver.gate.capacity import CapacityComparison, compare_capacity
    from pytest_llmserver.gate.compare import MetricComparison, Thresholds
    from pytest_llmserver.gate.fingerprint import ModelFingerprint
    from pytest_llmserver.gate.gate import Gate

__all__ = [
    "CapacityComparison",
    "Gate",
    "MetricComparison",
    "ModelFingerprint",
    "Thresholds",
    "ToolbenchComparison",
    "baseline_document",
    "baseline_file",
    "compare_capacity",
    "comparison_lines",
    "load_baseline",
    "samples_from_records",
    "save_baseline",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "baseline": (
                "ToolbenchComparison baseline_document baseline_file comparison_lines "
                "load_baseline samples_from_records save_baseline"
            ),
            "capacity": "CapacityComparison compare_capacity",
            "compare": "MetricComparison Thresholds",
            "fingerprint": "ModelFingerprint",
            "gate": "Gate",
        },
    )
