"""The regression gate: model fingerprints, baselines, and the statistics that compare runs."""

from pytest_llmserver.gate.baseline import (
    DEFAULT_DIR,
    Baseline,
    BaselineError,
    ToolbenchComparison,
    baseline_document,
    baseline_file,
    compare_stress,
    compare_toolbench,
    comparison_lines,
    load_baseline,
    model_update,
    samples_from_records,
    save_baseline,
)
from pytest_llmserver.gate.compare import MetricComparison, Thresholds
from pytest_llmserver.gate.fingerprint import ModelFingerprint

__all__ = [
    "DEFAULT_DIR",
    "Baseline",
    "BaselineError",
    "MetricComparison",
    "ModelFingerprint",
    "Thresholds",
    "ToolbenchComparison",
    "baseline_document",
    "baseline_file",
    "compare_stress",
    "compare_toolbench",
    "comparison_lines",
    "load_baseline",
    "model_update",
    "samples_from_records",
    "save_baseline",
]
