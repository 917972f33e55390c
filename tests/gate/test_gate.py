"""The run's gate: a baseline loaded once per model, comparisons noted as lines and
regressions, a changed model named, an unusable baseline reported once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_llmserver.gate import (
    Gate,
    ModelFingerprint,
    Thresholds,
    baseline_document,
    baseline_file,
    save_baseline,
)

FINGERPRINT = ModelFingerprint(kind="ollama", model="m", digest="sha256:aaaaaaaaaaaa1111")
TTFT = np.random.default_rng(1).normal(0.100, 0.002, 200).tolist()
DECODE = np.random.default_rng(2).normal(50.0, 0.5, 200).tolist()


def saved(tmp_path: Path, tasks: dict[str, bool] | None = None) -> Path:
    stress = [
        {
            "mode": "throughput",
            "id": "c4",
            "summary": {},
            "samples": {"ttft_s": TTFT, "e2e_s": TTFT, "itl_s": TTFT, "decode_tps": DECODE},
        }
    ]
    outcomes = {
        k: {"passed_all": v, "passes": int(v), "trials": 1} for k, v in (tasks or {}).items()
    }
    document = baseline_document(FINGERPRINT, "r0", "0.1.0", {}, stress, outcomes)
    return save_baseline(document, baseline_file(tmp_path / "llm-baselines", FINGERPRINT))


def gate(tmp_path: Path, errors: list[str], wanted: str | None = "auto") -> Gate:
    return Gate(wanted, Thresholds(relative=0.2), tmp_path, errors.append)


def test_no_baseline_asked_compares_nothing(tmp_path: Path) -> None:
    errors: list[str] = []
    g = gate(tmp_path, errors, wanted=None)
    assert g.baseline(FINGERPRINT) is None
    assert g.compare_stress(FINGERPRINT, "throughput", "c4", {"ttft_s": TTFT}) == []
    assert g.summary() is None
    assert errors == []


def test_a_missing_baseline_is_reported_once(tmp_path: Path) -> None:
    errors: list[str] = []
    g = gate(tmp_path, errors)
    assert g.baseline(FINGERPRINT) is None
    assert g.baseline(FINGERPRINT) is None
    assert len(errors) == 1
    assert "does not exist (save one with --llm-save-baseline)" in errors[0]


def test_a_slower_run_is_a_regression_and_the_rest_is_counted(tmp_path: Path) -> None:
    saved(tmp_path)
    errors: list[str] = []
    g = gate(tmp_path, errors)
    slower = [v * 1.5 for v in TTFT]
    samples = {"ttft_s": slower, "e2e_s": TTFT, "itl_s": TTFT, "decode_tps": DECODE}
    comparisons = g.compare_stress(FINGERPRINT, "throughput", "c4", samples)
    assert [c.status for c in comparisons if c.metric == "ttft_s"] == ["regression"] * 2
    assert len(g.regressions) == 2
    assert all(line.startswith("throughput c4: ttft_s p") for line in g.regressions)
    assert g.comparison_lines == ["throughput c4: 4 unchanged metric(s)"]
    assert g.compare_stress(FINGERPRINT, "throughput", "other-id", samples) == []
    summary = g.summary()
    assert summary is not None
    assert summary["regressions"] == g.regressions
    assert errors == []


def test_a_changed_model_and_new_task_failures(tmp_path: Path) -> None:
    saved(tmp_path, {"A": True, "B": False})
    g = gate(tmp_path, [])
    update = ModelFingerprint(kind="ollama", model="m", digest="sha256:bbbbbbbbbbbb2222")
    outcomes = {"A": {"passed_all": False, "passes": 0, "trials": 1}}
    comparison = g.compare_toolbench(update, outcomes)
    assert comparison is not None
    assert comparison.transitions.new_failures == ("A",)
    assert g.regressions == []  # not noted until the whole run is known
    g.note_toolbench("m", comparison)
    assert g.regressions == ["tool bench [m] new failures: A"]
    assert g.model_updates == ["ollama m @ aaaaaaaaaaaa → ollama m @ bbbbbbbbbbbb"]


def test_a_worker_hands_its_lines_to_the_controller(tmp_path: Path) -> None:
    worker, controller = gate(tmp_path, []), gate(tmp_path, [])
    worker.regressions.append("x")
    worker.comparison_lines.append("y")
    controller.comparison_lines.append("y")
    controller.absorb(worker.export())
    controller.absorb(worker.export())
    assert (controller.regressions, controller.comparison_lines) == (["x"], ["y"])
