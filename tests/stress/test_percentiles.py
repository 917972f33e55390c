"""Percentiles and metric tables: against numpy, low-n flags, warm-up and failures skipped."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pytest_llmserver.stress import metric_table, min_samples, summarize
from tests.stress.records_helpers import fail, rec


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
