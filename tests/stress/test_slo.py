"""SLOs: parsing, checks against a metric table, goodput."""

from __future__ import annotations

import pytest

from pytest_llmserver.stress import check_slos, goodput, metric_table, parse_slos
from tests.stress.records_helpers import fail, rec


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
