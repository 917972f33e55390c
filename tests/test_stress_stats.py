"""Stress statistics: percentiles vs numpy, tables, throughput, SLOs, goodput, files, drift."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_llmserver.client import ERROR_CLASSES
from pytest_llmserver.stress import (
    check_slos,
    drift,
    error_counts,
    goodput,
    iter_records,
    metric_table,
    min_samples,
    parse_slos,
    stats,
    summarize,
    summarize_file,
    summarize_records,
    throughput,
)


def rec(**fields: Any) -> dict[str, Any]:
    """A successful, non-warm-up record with ``fields`` on top."""
    base: dict[str, Any] = {"ok": True, "error_class": None, "warmup": False, "itl_s": []}
    base.update(fields)
    return base


def fail(error_class: str | None, **fields: Any) -> dict[str, Any]:
    return rec(ok=False, error_class=error_class, **fields)


# --------------------------------------------------------------------------- summarize


def test_summarize_matches_numpy() -> None:
    data = np.random.default_rng(7).lognormal(0.0, 1.0, 537)
    s = summarize(data.tolist())
    assert s is not None
    assert s.n == 537
    assert s.min == data.min()
    assert s.max == data.max()
    assert s.mean == pytest.approx(data.mean(), rel=1e-12)
    assert s.stddev == pytest.approx(data.std(ddof=1), rel=1e-12)
    for p in (50, 90, 95, 99):
        assert getattr(s, f"p{p}") == pytest.approx(np.percentile(data, p, method="linear"))
    assert s.low_n == frozenset({"p99"})


def test_summarize_small_and_missing() -> None:
    assert summarize([]) is None
    assert summarize([None, math.nan]) is None
    one = summarize([None, 2.5, math.nan])
    assert one is not None
    assert (one.n, one.min, one.max, one.mean, one.p50, one.p99) == (1, 2.5, 2.5, 2.5, 2.5, 2.5)
    assert one.stddev is None
    assert one.low_n == frozenset({"p50", "p90", "p95", "p99"})
    two = summarize([1.0, None, 3.0])
    assert two is not None
    assert two.n == 2
    assert two.stddev == pytest.approx(math.sqrt(2.0))
    assert two.p50 == 2.0


@pytest.mark.parametrize(("percent", "needed"), [(50, 20), (90, 100), (95, 200), (99, 1000)])
def test_low_n_thresholds(percent: int, needed: int) -> None:
    assert min_samples(percent) == needed
    name = f"p{percent}"
    below = summarize([1.0] * (needed - 1))
    at = summarize([1.0] * needed)
    assert below is not None
    assert at is not None
    assert name in below.low_n
    assert name not in at.low_n


# --------------------------------------------------------------------------- metric table


def test_metric_table_skips_warmup_and_failures() -> None:
    records = [
        rec(ttft_s=0.1, e2e_s=1.0, itl_s=[0.01, 0.02, 0.03], sent_s=0.5, scheduled_s=0.25),
        rec(ttft_s=0.3, e2e_s=2.0, itl_s=[0.05], queue_s=0.0),
        rec(ttft_s=0.2, e2e_s=None, itl_s=[]),
        rec(ttft_s=9.0, e2e_s=9.0, itl_s=[9.0], warmup=True),
        fail("timeout", ttft_s=8.0, itl_s=[8.0]),
    ]
    table = metric_table(records)
    assert table.ttft_s is not None
    assert table.ttft_s.n == 3
    assert table.ttft_s.max == pytest.approx(0.3)
    assert table.e2e_s is not None
    assert table.e2e_s.n == 2
    assert table.itl_s is not None
    assert table.itl_s.n == 4
    assert table.itl_s.max == pytest.approx(0.05)
    assert table.itl_requests == 2
    assert table.queue_s is not None
    assert table.queue_s.n == 2  # queue_s given, or sent_s - scheduled_s
    assert table.queue_s.max == pytest.approx(0.25)
    assert table.ttfb_s is None
    assert table.to_dict()["ttfb_s"] is None
    json.dumps(table.to_dict())


# --------------------------------------------------------------------------- throughput


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


# --------------------------------------------------------------------------- SLOs


def test_parse_slos_good() -> None:
    assert parse_slos("ttft_p95:0.8,e2e_p99:5") == {"ttft_p95": 0.8, "e2e_p99": 5.0}
    assert parse_slos(" ttft_s_mean : 1e-1 , itl_max:0.2 ,queue_p50:0") == {
        "ttft_mean": 0.1,
        "itl_max": 0.2,
        "queue_p50": 0.0,
    }
    assert parse_slos("  ") == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ttft_p95", "'ttft_p95': missing ':LIMIT'"),
        ("ttft:0.8", "missing statistic in 'ttft'"),
        ("ttft_p97:0.8", "unknown statistic 'p97'"),
        ("tps_p95:0.8", "unknown metric 'tps'"),
        ("ttft_p95:fast", "limit 'fast' is not a number"),
        ("ttft_p95:-1", "limit '-1' must be a finite number >= 0"),
        ("ttft_p95:nan", "limit 'nan' must be a finite number >= 0"),
        ("ttft_p95:1,,e2e_p99:2", "bad SLO entry 2 '': empty entry"),
        ("ttft_p95:1,ttft_s_p95:2", "'ttft_p95' given twice"),
    ],
)
def test_parse_slos_bad(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="expected METRIC_STAT:LIMIT") as info:
        parse_slos(text)
    assert fragment in str(info.value)


def test_check_slos() -> None:
    records = [rec(ttft_s=0.1 * i, e2e_s=1.0) for i in range(1, 11)]
    table = metric_table(records)
    results = check_slos(table, parse_slos("ttft_max:0.9,e2e_mean:1,ttfb_p50:1,ttft_p50:1"))
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["ttft_max", "e2e_mean", "ttfb_p50", "ttft_p50"]
    assert by_name["ttft_max"].measured == pytest.approx(1.0)
    assert not by_name["ttft_max"].passed
    assert by_name["e2e_mean"].measured == pytest.approx(1.0)
    assert by_name["e2e_mean"].passed
    assert by_name["ttfb_p50"].measured is None
    assert not by_name["ttfb_p50"].passed
    assert by_name["ttfb_p50"].note == "no samples for ttfb_s"
    assert by_name["ttft_p50"].passed
    assert by_name["ttft_p50"].note == "p50 rests on 10 samples (needs >= 20)"


def test_goodput_counts_errors_as_not_good() -> None:
    records = [
        rec(ttft_s=0.5, e2e_s=2.0, itl_s=[0.01, 0.02]),  # good
        rec(ttft_s=0.9, e2e_s=2.0, itl_s=[0.01]),  # ttft over
        rec(ttft_s=0.5, e2e_s=2.0, itl_s=[0.01, 0.3]),  # one gap over
        rec(ttft_s=0.5, e2e_s=None, itl_s=[0.01]),  # e2e missing
        rec(ttft_s=0.1, e2e_s=0.1, itl_s=[0.01]),  # good
        rec(ttft_s=0.1, e2e_s=0.1, itl_s=[0.01], warmup=True),  # not counted
        fail("timeout", ttft_s=0.1, e2e_s=0.1, itl_s=[0.01]),  # error
    ]
    slos = parse_slos("ttft_p95:0.8,ttft_p99:2,e2e_p99:5,itl_max:0.1")
    g = goodput(records, slos)
    assert g.limits == {"ttft_s": 0.8, "e2e_s": 5.0, "itl_s": 0.1}
    assert (g.requests, g.good) == (6, 2)
    assert g.share == pytest.approx(2 / 6)
    assert goodput([], slos).share is None


# --------------------------------------------------------------------------- errors, files


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


def test_iter_records_chunks(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    lines = [json.dumps({"i": i}) for i in range(10)]
    lines.insert(4, "   ")
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    chunks = list(iter_records(path, chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [r["i"] for c in chunks for r in c] == list(range(10))


def test_iter_records_corrupt_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"i": 1}\n\n{"i": 2\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:3: invalid JSON"):
        list(iter_records(path))
    path.write_text('{"i": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: expected a JSON object, got list"):
        list(iter_records(path))


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
    monkeypatch.setattr(stats, "_FLUSH_AT", 16)  # the file path stores columns in many blocks
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
