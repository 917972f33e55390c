"""Whole-run statistics: throughput, error counts, file vs memory summaries, drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_llmserver.client import ERROR_CLASSES
from pytest_llmserver.stress import (
    drift,
    error_counts,
    parse_slos,
    percentiles,
    summarize_file,
    summarize_records,
    suspect_note,
    throughput,
)
from tests.stress.records_helpers import fail, rec


def test_throughput_window_and_rates() -> None:
    records = [
        rec(sent_s=0.0, end_s=1.0, output_tokens=100, warmup=True),
        rec(sent_s=2.0, end_s=5.0, output_tokens=50),
        rec(sent_s=3.0, end_s=12.0, output_tokens=150),
        fail("connect", sent_s=4.0, end_s=4.5, output_tokens=0),
    ]
    t = throughput(records)
    assert t.window_s == pytest.approx(10.0)
    assert t.requests == 2
    assert t.requests_per_s == pytest.approx(0.2)
    assert t.output_tokens == 200
    assert t.output_tokens_per_s == pytest.approx(20.0)
    assert t.errors == 1
    assert t.errors_per_s == pytest.approx(0.1)


def test_throughput_without_window() -> None:
    t = throughput([rec(output_tokens=3)])
    assert t.window_s is None
    assert t.requests == 1
    assert t.requests_per_s is None


def test_error_counts_zero_filled() -> None:
    counts = error_counts(
        [
            fail("timeout"),
            fail("timeout"),
            fail(None),
            fail("connect", warmup=True),
            rec(),
        ]
    )
    assert counts == {**dict.fromkeys(ERROR_CLASSES, 0), "timeout": 2, "unknown": 1}
    assert error_counts([]) == dict.fromkeys(ERROR_CLASSES, 0)


def _random_run(n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    classes = [*ERROR_CLASSES, None]
    records: list[dict[str, Any]] = []
    for i in range(n):
        sent = i * 0.05 + float(rng.uniform(0, 0.01))
        e2e = float(rng.lognormal(0, 0.5))
        ok = bool(rng.uniform() > 0.1)
        records.append(
            {
                "ok": ok,
                "error_class": None if ok else classes[i % len(classes)],
                "warmup": i < 5,
                "scheduled_s": i * 0.05,
                "sent_s": sent,
                "queue_s": sent - i * 0.05,
                "ttfb_s": float(rng.uniform(0.01, 0.2)),
                "ttft_s": float(rng.uniform(0.02, 0.5)),
                "ttfc_s": None if i % 7 == 0 else float(rng.uniform(0.02, 0.6)),
                "e2e_s": e2e,
                "itl_s": rng.exponential(0.02, int(rng.integers(0, 6))).tolist(),
                "tpot_s": float(rng.uniform(0.01, 0.03)),
                "decode_tps": float(rng.uniform(30, 60)),
                "server_decode_tps": float(rng.uniform(30, 60)),
                "server_prefill_tps": float(rng.uniform(300, 600)),
                "output_tokens": int(rng.integers(1, 200)),
                "prompt_tokens": 20,
                "end_s": sent + e2e,
            }
        )
    return records


def test_summarize_file_equals_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = _random_run(400)
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    slos = parse_slos("ttft_p95:0.4,e2e_p99:3,itl_p99:0.1")
    in_memory = summarize_records(records, slos)
    monkeypatch.setattr(percentiles, "_FLUSH_AT", 16)  # the file stores columns in many blocks
    from_file = summarize_file(path, slos, chunk_size=37)
    assert from_file.to_dict() == in_memory.to_dict()
    assert from_file.total == 400
    assert from_file.warmup == 5
    assert from_file.ok + from_file.failed == 395
    assert sum(from_file.errors.values()) == from_file.failed
    assert from_file.metrics.ttft_s is not None
    assert from_file.metrics.ttft_s.n == from_file.ok
    assert from_file.goodput is not None
    assert from_file.goodput.requests == 395
    assert [r.name for r in from_file.slos] == ["ttft_p95", "e2e_p99", "itl_p99"]
    json.dumps(from_file.to_dict())


# --------------------------------------------------------------------------- drift


def test_drift_linear_series() -> None:
    values = [1.0 + 0.5 * i for i in range(10)]  # 1.0 .. 5.5
    d = drift(values)
    assert d.n == 10
    assert d.slope_per_request == pytest.approx(0.5)
    assert d.first_half_mean == pytest.approx(2.0)
    assert d.second_half_mean == pytest.approx(4.5)
    assert d.relative_change == pytest.approx(1.25)
    assert d.mean == pytest.approx(3.25)
    assert d.cv == pytest.approx(np.std(values, ddof=1) / 3.25)


def test_drift_odd_and_short() -> None:
    d = drift([2.0, None, 4.0, 100.0, 6.0, 8.0])  # None dropped: 2, 4, 100, 6, 8
    assert d.n == 5
    assert d.first_half_mean == pytest.approx(3.0)
    assert d.second_half_mean == pytest.approx(7.0)
    flat = drift([3.0, 3.0, 3.0])
    assert flat.slope_per_request == pytest.approx(0.0)
    assert flat.cv == pytest.approx(0.0)
    assert flat.relative_change == pytest.approx(0.0)
    short = drift([4.0])
    assert (short.n, short.mean, short.slope_per_request, short.cv) == (1, 4.0, None, None)
    assert drift([]).mean is None


def test_suspect_figures_counted_by_record_and_by_field() -> None:
    summary = summarize_records(
        [
            rec(suspect=["eval_duration_ns", "prompt_tokens"]),
            rec(warmup=True, suspect=["eval_duration_ns", "eval_duration_ns"]),
            fail("protocol", suspect=["output_tokens"]),
            rec(suspect=[]),
            rec(),
        ]
    )
    assert summary.suspect_records == 3  # warm-up and failed records included
    assert summary.suspect == {"eval_duration_ns": 2, "prompt_tokens": 1, "output_tokens": 1}
    assert summary.to_dict()["suspect_records"] == 3
    assert suspect_note(summary) == (
        "3 of 5 records had server figures outside physical ranges, dropped from every "
        "statistic (eval_duration_ns 2, output_tokens 1, prompt_tokens 1)"
    )
    assert suspect_note(summarize_records([rec(), rec(suspect=[])])) is None
