"""Stress reports: Markdown content, file naming, JSON; progress line and rolling median."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver._util import ProgressLine, should_show_progress
from pytest_llmserver.stress.progress import RollingMedian, progress_text
from pytest_llmserver.stress.report import (
    render_markdown,
    report_stem,
    to_json,
    write_stress_report,
)
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.slo import parse_slos
from pytest_llmserver.stress.summary import summarize_records

TTFTS = (0.1, 0.2, 0.3, 0.4, 0.6)


def records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"ok": True, "warmup": True, "sent_s": 0.0, "end_s": 0.5, "ttft_s": 9.0, "e2e_s": 0.5}
    ]
    for i, ttft in enumerate(TTFTS):
        out.append(
            {
                "ok": True,
                "warmup": False,
                "error_class": None,
                "sent_s": 1.0 + i,
                "end_s": 2.0 + i,
                "ttft_s": ttft,
                "e2e_s": 1.0,
                "itl_s": [0.01, 0.02],
                "output_tokens": 10,
            }
        )
    out.append({"ok": False, "warmup": False, "error_class": "timeout", "sent_s": 2.0})
    return out


def make_stats(lag_p99_s: float = 0.001, **params: Any) -> TestStats:
    summary = summarize_records(records(), slos=parse_slos("ttft_p95:0.5"))
    return TestStats(
        mode="throughput",
        params={"concurrency": 4, "seed": 1234, **params},
        server={"url": "http://127.0.0.1:8080"},
        model="tiny-model",
        summary=summary,
        records_path=Path("records.jsonl"),
        wall_s=7.5,
        loop_lag_p99_s=lag_p99_s,
        loop_lag_max_s=0.002,
        tables={"sizes": [{"target_tokens": 128, "ttft_s": 0.0123}, {"prefill_tps": 1500.4}]},
        figures={"divergence_share": 0.25},
        notes=["a note with | pipe"],
    )


def test_markdown_header_parameters_and_summary() -> None:
    text = render_markdown(make_stats())
    assert text.startswith("# Stress: throughput\n")
    assert "model: tiny-model" in text
    assert "| seed | 1234 |" in text
    assert "| concurrency | 4 |" in text
    assert "5 ok, 1 failed, 1 warm-up" in text
    assert "wall time 7.5 s" in text


def test_percentile_table_and_low_n_footnote() -> None:
    text = render_markdown(make_stats())
    ttft_row = next(line for line in text.splitlines() if line.startswith("| ttft (ms) |"))
    cells = [c.strip() for c in ttft_row.strip("|").split("|")]
    assert cells[1] == "5"  # n
    assert cells[2] == "100.0"  # min, never flagged
    assert cells[3] == "300.0*"  # p50 on 5 samples
    assert cells[7] == "600.0"  # max
    assert text.count("\\* fewer than 10 samples") == 1
    assert "| itl (ms) | 10 |" in text
    assert "pooled from 5 requests" in text


def test_slo_goodput_errors_and_custom_sections() -> None:
    text = render_markdown(make_stats())
    assert "| ttft_p95 | 560.0 ms | 500.0 ms | FAIL |" in text
    assert "Goodput: 4/6" in text
    assert "| timeout | 1 |" in text
    assert "| connect |" not in text
    assert "## Sizes" in text
    assert "| target_tokens | ttft_s | prefill_tps |" in text
    assert "| 128 | 0.0123 | - |" in text
    assert "| - | - | 1500.4 |" in text
    assert "| divergence_share | 0.25 |" in text
    assert "- a note with | pipe" in text


def test_no_errors_says_none() -> None:
    stats = make_stats()
    stats.summary.errors.clear()
    assert "## Errors\n\nnone\n" in render_markdown(stats)


def test_pipes_escaped_in_cells() -> None:
    text = render_markdown(make_stats(prompt="a|b"))
    assert "| prompt | a\\|b |" in text


def test_client_bound_warning() -> None:
    bound = render_markdown(make_stats(lag_p99_s=0.05))
    assert "client event loop lag p99 50.0 ms: the client is a bottleneck" in bound
    calm = render_markdown(make_stats(lag_p99_s=0.001))
    assert "bottleneck" not in calm
    assert "Client event loop lag: p99 1.0 ms, max 2.0 ms" in calm


def test_interrupted_and_suspect_lines_near_the_top() -> None:
    calm = render_markdown(make_stats())
    assert "Interrupted" not in calm
    assert "Suspect" not in calm
    stats = make_stats()
    stats.interrupted = True
    stats.summary = summarize_records(
        [*records(), {"ok": True, "warmup": False, "suspect": ["eval_duration_ns"]}]
    )
    top = render_markdown(stats).split("## Latency")[0]
    assert "**Interrupted:** the run was stopped early" in top
    assert (
        "**Suspect server figures:** 1 of 8 records had server figures outside physical "
        "ranges, dropped from every statistic (eval_duration_ns 1)." in top
    )
    assert to_json(stats)["interrupted"] is True
    assert to_json(stats)["summary"]["suspect"] == {"eval_duration_ns": 1}


def test_write_report_names_and_json(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    md, js = write_stress_report(make_stats(), target)
    assert (md.name, js.name) == ("stress-throughput.md", "stress-throughput.json")
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    assert data["params"] == {"concurrency": 4, "seed": 1234}
    assert data["mode"] == "throughput"
    assert md.read_text(encoding="utf-8") == render_markdown(make_stats())

    md2, js2 = write_stress_report(make_stats(), target)
    assert (md2.name, js2.name) == ("stress-throughput-2.md", "stress-throughput-2.json")
    assert md.exists()


def test_report_stem_uses_id(tmp_path: Path) -> None:
    stats = make_stats(id="c16-n64")
    assert report_stem(stats) == "stress-throughput-c16-n64"
    assert report_stem(make_stats(id="x[a b]/c")) == "stress-throughput-x-a-b-c"
    assert report_stem(make_stats(id="")) == "stress-throughput"
    md, _ = write_stress_report(stats, tmp_path)
    assert md.name == "stress-throughput-c16-n64.md"
    assert to_json(stats)["params"]["id"] == "c16-n64"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_disabled_writes_nothing() -> None:
    out = io.StringIO()
    line = ProgressLine(out, enabled=False, min_interval_s=0.0)
    line.show(progress_text(1, 2, 0, 0.1))
    line.show(progress_text(2, 2, 0, 0.1), force=True)
    line.close()
    assert out.getvalue() == ""


def test_progress_throttles_pads_and_closes() -> None:
    out, clock = io.StringIO(), FakeClock()
    line = ProgressLine(out, enabled=True, min_interval_s=0.5, clock=clock)
    line.show(progress_text(100, 8, 3, 0.25, label="sweep"))
    line.show(progress_text(101, 8, 3, 0.25, label="sweep"))
    assert out.getvalue().count("\r") == 1
    assert "sweep: done 100 | in flight 8 | errors 3 | p50 ttft 250 ms" in out.getvalue()
    first_len = len(out.getvalue())
    clock.now += 0.6
    line.show(progress_text(5, 0, 0, None))
    second = out.getvalue()[first_len:]
    assert second.startswith("\rdone 5 |")
    assert len(second) == first_len  # padded over the longer first line
    line.close()
    assert out.getvalue().endswith("\n")
    line.close()
    assert out.getvalue().count("\n") == 1


def test_progress_close_without_writes_is_silent() -> None:
    out = io.StringIO()
    ProgressLine(out, enabled=True).close()
    assert out.getvalue() == ""


def test_should_show_progress() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert should_show_progress(Tty(), quiet=False)
    assert not should_show_progress(Tty(), quiet=True)
    assert not should_show_progress(io.StringIO(), quiet=False)


def test_rolling_median() -> None:
    median = RollingMedian(window=3)
    assert median.value() is None
    for value in (1.0, None, 5.0, float("nan"), 3.0):
        median.add(value)
    assert median.value() == 3.0
    median.add(10.0)
    median.add(11.0)
    assert len(median) == 3
    assert median.value() == 10.0
    with pytest.raises(ValueError, match="window"):
        RollingMedian(window=0)
