"""PNG report charts: files, titles, Markdown links, odd data, thinning, matplotlib absent."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.report.charts import (
    Chart,
    chart_markdown,
    charts_available,
    stress_charts,
    sweep_chart,
    toolbench_chart,
)
from pytest_llmserver.report.charts.samplers import NumberSample, Occupancy, Sample
from pytest_llmserver.report.charts.toolbench import tier_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SIZES: list[dict[str, Any]] = [
    {"target_tokens": 256, "prompt_tokens": 250, "ttft_s": 0.1, "prefill_tps": 2500.0},
    {"target_tokens": 1024, "prompt_tokens": 1030, "ttft_s": 0.3, "prefill_tps": 3400.0},
    {"target_tokens": 4096, "prompt_tokens": 4100, "ttft_s": None, "prefill_tps": 3000.0},
    {"target_tokens": 8192, "prompt_tokens": None, "prefill_tps": None, "error": "too long"},
]

SWEEP: list[dict[str, Any]] = [
    {"concurrency": 1, "requests_per_s": 1.0, "output_tokens_per_s": 50.0, "ttft_p95_s": 0.1},
    {"concurrency": 4, "requests_per_s": 3.5, "output_tokens_per_s": 170.0, "e2e_p95_s": 1.2},
    {"concurrency": 16, "requests_per_s": 9.0, "output_tokens_per_s": None, "ttft_p95_s": 0.4},
]

TOOLBENCH: list[dict[str, Any]] = [
    {"tier": "all", "tasks": 12, "pass_at_1": 0.75, "pass_all": 0.5},
    {"tier": "quick", "tasks": 7, "pass_at_1": 1.0, "pass_all": 0.857},
    {"tier": "hard", "tasks": 5, "pass_at_1": 0.4, "pass_all": None},
]


def write_records(path: Path) -> Path:
    """Two warm-ups, 20 ok requests, 2 failures, odd fields, then two lines that are not JSON
    objects (the reader stops at the first: the charts show everything before it)."""
    records: list[dict[str, Any]] = [
        {"warmup": True, "ok": True, "sent_s": 0.0, "end_s": 0.4, "ttft_s": 0.3, "e2e_s": 0.4},
        {"warmup": True, "ok": False, "sent_s": 0.0, "end_s": 0.1},
    ]
    for i in range(20):
        sent = 0.5 + 0.1 * i
        records.append(
            {
                "warmup": False,
                "ok": True,
                "sent_s": sent,
                "end_s": sent + 0.6 + 0.01 * i,
                "ttft_s": 0.05 + 0.005 * i,
                "e2e_s": 0.6 + 0.01 * i,
                "itl_s": [0.02, 0.025, None, 0.03],
                "prompt_tokens": 100 + i,
            }
        )
    records.append({"ok": False, "sent_s": 1.0, "end_s": 1.5, "error_class": "timeout"})
    records.append({"ok": False, "sent_s": 2.0, "end_s": None, "e2e_s": None})
    records.append({"ok": True, "sent_s": None, "ttft_s": "fast", "itl_s": "not a list"})
    lines = [json.dumps(r) for r in records]
    lines += ["{not json", "[1, 2, 3]"]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, asserting its signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_charts_available() -> None:
    assert charts_available() is True


def test_stress_charts_throughput(tmp_path: Path) -> None:
    records = write_records(tmp_path / "records.jsonl")
    out = tmp_path / "report"
    stats = {"mode": "throughput", "params": {}, "tables": {"sizes": SIZES}}
    result = stress_charts(records, stats, out, "stress-throughput")
    assert result == [
        Chart("Latency over time", out / "stress-throughput-latency.png"),
        Chart("TTFT and ITL distributions", out / "stress-throughput-distributions.png"),
    ]
    assert png_size(result[0].path) == (800, 450)
    assert png_size(result[1].path) == (1000, 450)
    assert sorted(p.name for p in out.iterdir()) == [
        "stress-throughput-distributions.png",
        "stress-throughput-latency.png",
    ]


def test_stress_charts_token_stress_adds_prefill(tmp_path: Path) -> None:
    records = write_records(tmp_path / "records.jsonl")
    stats = {"mode": "token_stress", "params": {"sizes": [256, 1024]}, "tables": {"sizes": SIZES}}
    result = stress_charts(records, stats, tmp_path, "stress-token_stress")
    assert [c.title for c in result] == [
        "Latency over time",
        "TTFT and ITL distributions",
        "Prefill speed against prompt length",
    ]
    assert result[2].path == tmp_path / "stress-token_stress-prefill.png"
    assert png_size(result[2].path) == (800, 450)


@pytest.mark.parametrize(
    "tables",
    [
        {},
        {"sizes": []},
        {"sizes": None},
        {"sizes": [{"prompt_tokens": 100, "prefill_tps": None}, {"prefill_tps": 5.0}, "row"]},
        {"sizes": [{"prompt_tokens": True, "prefill_tps": 5.0}]},
    ],
)
def test_token_stress_without_prefill_numbers(tmp_path: Path, tables: dict[str, Any]) -> None:
    records = tmp_path / "missing.jsonl"
    stats = {"mode": "token_stress", "tables": tables}
    assert stress_charts(records, stats, tmp_path / "out", "s") == []
    assert not (tmp_path / "out").exists()


def test_prefill_chart_without_records(tmp_path: Path) -> None:
    stats = {"mode": "token_stress", "tables": {"sizes": SIZES[:1]}}
    result = stress_charts(tmp_path / "missing.jsonl", stats, tmp_path, "t")
    assert result == [Chart("Prefill speed against prompt length", tmp_path / "t-prefill.png")]


@pytest.mark.parametrize(
    "content",
    [
        "",
        "\n\n",
        "garbage\n{]\n42\nnull\n",
        json.dumps({"warmup": True, "ok": True, "sent_s": 0, "end_s": 1, "ttft_s": 0.1}) + "\n",
        json.dumps({"ok": True}) + "\n" + json.dumps({"sent_s": None, "end_s": None}) + "\n",
        json.dumps({"ok": True, "sent_s": "0", "ttft_s": None, "itl_s": [None, "x", True]}),
        '{"ok": true, "sent_s": 1e400, "end_s": 1e300, "ttft_s": NaN, "itl_s": [-Infinity]}',
    ],
)
def test_stress_charts_nothing_to_draw(tmp_path: Path, content: str) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text(content, encoding="utf-8")
    assert stress_charts(records, {"mode": "throughput"}, tmp_path, "s") == []
    assert stress_charts(records, {}, tmp_path, "s") == []
    assert list(tmp_path.glob("*.png")) == []


def test_stress_charts_stop_at_a_torn_line(tmp_path: Path) -> None:
    """A run cut short mid-line: the records before the torn line are still charted."""
    records = tmp_path / "records.jsonl"
    one = {"ok": True, "sent_s": 0.0, "end_s": 0.5, "ttft_s": 0.1, "e2e_s": 0.5, "itl_s": [0.02]}
    records.write_text(json.dumps(one) + "\n" + '{"ok": true, "sent_s": 0.', encoding="utf-8")
    result = stress_charts(records, {"mode": "throughput"}, tmp_path, "torn")
    assert [c.path.name for c in result] == ["torn-latency.png", "torn-distributions.png"]


def test_stress_charts_bytes_not_utf8(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_bytes(b'{"ok": true, "sent_s": 0.0, "end_s": 0.5}\n\xff\xfe{}\n')
    for chart in stress_charts(records, {"mode": "throughput"}, tmp_path, "bytes"):
        png_size(chart.path)


def test_stress_charts_single_request(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    one = {"ok": True, "sent_s": 0.0, "end_s": 0.5, "ttft_s": 0.1, "e2e_s": 0.5, "itl_s": [0.02]}
    records.write_text(json.dumps(one) + "\n", encoding="utf-8")
    result = stress_charts(records, {"mode": "consistency"}, tmp_path, "one")
    assert [c.path.name for c in result] == ["one-latency.png", "one-distributions.png"]
    for chart in result:
        png_size(chart.path)


def test_stress_charts_only_failures_or_only_itl(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"ok": False, "end_s": 3.0}) + "\n", encoding="utf-8")
    assert [c.path.name for c in stress_charts(records, {}, tmp_path, "f")] == ["f-latency.png"]
    records.write_text(json.dumps({"ok": True, "itl_s": [0.01, 0.02]}) + "\n", encoding="utf-8")
    result = stress_charts(records, {}, tmp_path, "i")
    assert [c.path.name for c in result] == ["i-distributions.png"]


def test_sweep_chart(tmp_path: Path) -> None:
    result = sweep_chart(SWEEP, tmp_path / "sweeps", "sweep-c1-16")
    assert result == [
        Chart(
            "Throughput and p95 latency against concurrency",
            tmp_path / "sweeps" / "sweep-c1-16.png",
        )
    ]
    assert png_size(result[0].path) == (800, 450)


@pytest.mark.parametrize(
    "points",
    [
        [],
        SWEEP[:1],
        [SWEEP[0], {"concurrency": None, "requests_per_s": 2.0}],
        [SWEEP[0], {"concurrency": 0, "requests_per_s": 2.0}],
        [{"concurrency": 1}, {"concurrency": 2, "requests_per_s": None}],
        [{"requests_per_s": 1.0}, {"requests_per_s": 2.0}, "point", None],
    ],
)
def test_sweep_chart_too_little(tmp_path: Path, points: list[Any]) -> None:
    assert sweep_chart(points, tmp_path, "sweep") == []
    assert not (tmp_path / "sweep.png").exists()


def test_sweep_chart_requests_only_and_same_concurrency(tmp_path: Path) -> None:
    points = [
        {"concurrency": 2, "requests_per_s": 1.0},
        {"concurrency": 2, "requests_per_s": 1.1},
        {"concurrency": 8, "requests_per_s": float("nan"), "e2e_p95_s": 2.0},
    ]
    assert [c.path for c in sweep_chart(points, tmp_path, "s")] == [tmp_path / "s.png"]


def test_toolbench_chart(tmp_path: Path) -> None:
    result = toolbench_chart(TOOLBENCH, tmp_path, "toolbench-smollm2")
    assert result == [Chart("Tool-calling pass rates per tier", tmp_path / "toolbench-smollm2.png")]
    assert png_size(result[0].path) == (800, 450)


def test_toolbench_rows_put_all_last() -> None:
    odd = [{"tier": None, "pass_at_1": 1.0}, {"tier": "x"}, {"tier": "y", "tasks": True}, 3]
    assert tier_rows([*TOOLBENCH, *odd]) == [
        ("quick (7)", 100.0, pytest.approx(85.7)),
        ("hard (5)", 40.0, None),
        ("all (12)", 75.0, 50.0),
    ]
    assert tier_rows([{"tier": "y", "tasks": True, "pass_all": 0.5}]) == [("y", None, 50.0)]


@pytest.mark.parametrize(
    "summary",
    [[], [{"tier": "quick", "tasks": 3}], [{"tasks": 3, "pass_at_1": 0.5}], [None, "row"]],
)
def test_toolbench_chart_nothing_to_draw(tmp_path: Path, summary: list[Any]) -> None:
    assert toolbench_chart(summary, tmp_path, "tb") == []


def test_chart_markdown(tmp_path: Path) -> None:
    md_dir = tmp_path / "run"
    listed = [
        Chart("Latency over time", md_dir / "stress-a-latency.png"),
        Chart("Pass rates", md_dir / "charts" / "toolbench.png"),
        Chart("Sweep [c]", tmp_path / "other" / "sweep 1.png"),
    ]
    assert chart_markdown(listed, md_dir) == [
        "![Latency over time](stress-a-latency.png)",
        "",
        "![Pass rates](charts/toolbench.png)",
        "",
        "![Sweep \\[c\\]](<../other/sweep 1.png>)",
        "",
    ]
    assert chart_markdown([], md_dir) == []


def test_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = write_records(tmp_path / "records.jsonl")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert charts_available() is False
    stats = {"mode": "token_stress", "tables": {"sizes": SIZES}}
    assert stress_charts(records, stats, tmp_path / "out", "s") == []
    assert sweep_chart(SWEEP, tmp_path / "out", "sweep") == []
    assert toolbench_chart(TOOLBENCH, tmp_path / "out", "tb") == []
    assert not (tmp_path / "out").exists()


def test_sample_keeps_every_kth_within_cap() -> None:
    kept: Sample[int] = Sample(cap=10)
    for i in range(100):
        kept.add(i)
    assert kept.items == list(range(0, 100, 16))
    numbers = NumberSample(cap=10)
    for start in range(0, 100, 7):
        numbers.add_numbers([float(i) for i in range(start, min(start + 7, 100))])
    assert numbers.items == [float(i) for i in range(0, 100, 16)]


def test_occupancy_is_time_weighted_and_coarsens() -> None:
    occupancy = Occupancy(bins=4, width_s=0.5)
    assert occupancy.curve() is None
    occupancy.add(0.0, 1.0)
    occupancy.add(0.5, 1.5)
    curve = occupancy.curve()
    assert curve is not None
    assert curve[0].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert curve[1].tolist() == pytest.approx([1.0, 2.0, 1.0, 0.0])
    occupancy.add(2.0, 3.5)  # beyond 4 bins of 0.5 s: the bins widen to 1 s
    occupancy.add(2.5, 1.0)  # ends before it starts: ignored
    curve = occupancy.curve()
    assert curve is not None
    assert curve[0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert curve[1].tolist() == pytest.approx([1.5, 0.5, 1.0, 0.5])
