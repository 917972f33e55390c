"""The capacity under SLO in baselines: stored from the run's figures, compared by the gate
(higher is better) and noted as a line or a regression."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_llmserver.gate import (
    Gate,
    ModelFingerprint,
    Thresholds,
    baseline_document,
    baseline_file,
    save_baseline,
)

FINGERPRINT = ModelFingerprint(kind="sim", model="m", digest="sha256:cccccccccccc3333")
BASE = {"rate_per_s": 40.0, "low_per_s": 39.0, "high_per_s": 41.0, "line": "sustains 40"}


def saved(tmp_path: Path) -> Path:
    stress: list[dict[str, Any]] = [
        {
            "mode": "capacity",
            "id": "ttft",
            "summary": {},
            "samples": {},
            "figures": {"capacity": BASE},
        },
        {"mode": "throughput", "id": "c4", "summary": {}, "samples": {}, "figures": {}},
    ]
    document = baseline_document(FINGERPRINT, "r0", "0.1.0", {}, stress, {})
    return save_baseline(document, baseline_file(tmp_path / "llm-baselines", FINGERPRINT))


def test_the_baseline_keeps_the_capacity_only_where_there_is_one(tmp_path: Path) -> None:
    doc = json.loads(saved(tmp_path).read_text())
    assert doc["stress"][0]["capacity"] == BASE
    assert "capacity" not in doc["stress"][1]


def test_the_gate_compares_capacities_and_notes_a_regression(tmp_path: Path) -> None:
    saved(tmp_path)
    errors: list[str] = []
    g = Gate("auto", Thresholds(relative=0.2), tmp_path, errors.append)
    lower = {"rate_per_s": 20.0, "low_per_s": 19.0, "high_per_s": 21.0}
    comparison = g.compare_capacity(FINGERPRINT, "ttft", lower)
    assert comparison is not None
    assert comparison.status == "regression"
    assert g.regressions == [f"capacity ttft: {comparison.line()}"]
    same = g.compare_capacity(FINGERPRINT, "ttft", {**BASE, "rate_per_s": 39.5})
    assert same is not None
    assert same.status == "unchanged"
    assert g.comparison_lines == [f"capacity ttft: {same.line()}"]
    assert g.compare_capacity(FINGERPRINT, "other", lower) is None
    assert (
        Gate(None, Thresholds(), tmp_path, errors.append).compare_capacity(
            FINGERPRINT, "ttft", lower
        )
        is None
    )
    assert errors == []
