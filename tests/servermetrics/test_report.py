"""The run's summary from a series and its records: gauges, counter deltas (resets, missing
series), histogram percentiles against ours, client overhead, Ollama's models and cold loads;
the series file round trip and the chart beside the client's TTFT."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.servermetrics import (
    Scrape,
    Series,
    ServerReport,
    parse_prometheus,
    read_series,
    series_path,
    server_report,
)
from pytest_llmserver.servermetrics.series import Endpoint, Sample
from tests.servermetrics.fake import llamacpp_text, vllm_text

URL = "http://127.0.0.1:8000/metrics"
ORIGIN_PERF_S = 1000.0  # perf_counter at the records' sent_s = 0


def _series(texts: list[str], family: str, t0_s: float = -0.5) -> Series:
    endpoint = Endpoint(URL, "prometheus", family)
    samples = [
        Sample(URL, 1.7e9 + t0_s + i, ORIGIN_PERF_S + t0_s + i, parse_prometheus(text, URL))
        for i, text in enumerate(texts)
    ]
    return Series([endpoint], samples)


def _record(i: int, **more: Any) -> dict[str, Any]:
    sent = 0.1 * i
    record = {
        "index": i,
        "warmup": i < 0,
        "ok": True,
        "sent_s": sent,
        "t_send_ns": int((ORIGIN_PERF_S + sent) * 1e9),
        "ttft_s": 0.05 + 0.1 * (i % 2),
        "e2e_s": 0.5,
        "prompt_tokens": 10,
        "output_tokens": 25,
    }
    return {**record, **more}


def test_vllm_summary_against_the_records() -> None:
    # Scrapes 2..5 of the fake: +150 generated, +300 prompt, 1 preemption, 6 TTFTs.
    series = _series([vllm_text(n) for n in range(2, 6)], "vllm")
    records = [_record(i) for i in range(-1, 5)]  # one warm-up: the server counts it too
    report = server_report(series, records, None)
    (summary,) = report.endpoints
    assert (summary.family, summary.scrapes, summary.failed, summary.span_s) == ("vllm", 4, 0, 3.0)
    running = summary.gauges["running"]
    assert (running.name, running.mean, running.max) == ("vllm:num_requests_running", 1.25, 2.0)
    assert summary.gauges["kv_use"].max == pytest.approx(0.4)
    assert summary.counters["generated_tokens"].delta == 150.0
    assert summary.counters["preemptions"].delta == 1.0
    assert summary.rate("generated_tokens") == pytest.approx(50.0)
    assert report.client_output_tokens == 6 * 25
    (ttft,) = summary.latency
    assert ttft.metric == "ttft_s"
    assert ttft.server_n == 6
    assert ttft.server["p50"] == pytest.approx(0.1)  # 3 of 6 under 0.1 s
    assert ttft.client_n == 6
    assert ttft.client["p50"] == pytest.approx(0.1)
    assert report.overhead_basis == "difference of percentiles"
    assert report.overhead["ttft_s client - server"]["p50"] == pytest.approx(0.0)
    assert report.aligned_by == "perf_counter"
    assert [s.t_s for s in series.samples] == pytest.approx([-0.5, 0.5, 1.5, 2.5])
    tables = report.tables()
    rows = {row["measure"]: row["value"] for row in tables["server_metrics"]}
    assert rows["vllm:generation_tokens_total (delta)"] == (
        "150 (50.0/s over 3.0 s); client 150 (+0.00 %)"
    )
    assert rows["vllm:prompt_tokens_total (delta)"].endswith("client 60 (+400.00 %)")
    assert rows["vllm:kv_cache_usage_perc mean / max"] == "22.50 / 40.00 %"
    assert tables["server_vs_client_latency"][0]["server p50 (ms)"] == "100.0"
    assert any("warm-up included" in note for note in report.notes)
    figures = report.figures()
    assert figures["server_generated_tokens"] == 150.0
    assert figures["server_generated_tokens_diff_pct"] == 0.0
    assert figures["server_prompt_tokens_diff_pct"] == 400.0
    assert figures["server_running_max"] == 2.0
    assert figures["server_preemptions"] == 1.0


def test_llamacpp_counts_cached_prompt_tokens_apart_and_stamps_each_request() -> None:
    series = _series([llamacpp_text(n) for n in (1, 2, 3)], "llamacpp")
    records = [
        _record(
            i,
            prompt_tokens=11,
            output_tokens=20,
            prompt_eval_duration_ns=30_000_000,
            eval_duration_ns=400_000_000,
        )
        for i in range(2)
    ]
    report = server_report(series, records, None)
    rows = {row["measure"]: row["value"] for row in report.tables()["server_metrics"]}
    assert rows["llamacpp:tokens_predicted_total (delta)"].endswith("client 40 (+0.00 %)")
    prompt = rows["llamacpp:prompt_tokens_total (delta)"]
    assert "with llamacpp:prompt_tokens_cached_total 22" in prompt  # 14 processed + 8 cached
    assert prompt.endswith("client 22 (+0.00 %)")
    assert report.figures()["server_prompt_tokens_diff_pct"] == 0.0
    assert rows["llamacpp:requests_deferred mean / max"] == "0.67 / 1.00"
    assert report.overhead_basis == "per request"
    ttft = report.overhead["ttft - server prefill"]
    assert ttft["n"] == 2
    assert ttft["p50"] == pytest.approx(0.07)  # (0.05 - 0.03 + 0.15 - 0.03) / 2
    assert report.overhead["e2e - server prefill+decode"]["p99"] == pytest.approx(0.07)
    assert f"{URL}: no kv_use series (llamacpp:kv_cache_usage_ratio)" in report.notes


def test_resets_and_missing_series_are_notes_not_errors() -> None:
    texts = [vllm_text(5), vllm_text(8), vllm_text(2), vllm_text(3)]  # the server restarted
    series = _series(texts, "vllm")
    series.samples.insert(1, Sample(URL, 0.0, ORIGIN_PERF_S, error="answered HTTP 503"))
    report = server_report(series, [_record(0)], None)
    (summary,) = report.endpoints
    assert summary.failed == 1
    assert summary.counters["generated_tokens"].delta == 150 + 100 + 50
    assert summary.counters["generated_tokens"].resets == 1
    assert (
        f"{URL}: vllm:generation_tokens_total reset 1 time(s); increases summed across resets"
        in report.notes
    )
    bare = _series(["# TYPE x gauge\nx 1\n"], "vllm")
    report = server_report(bare, [], None)
    assert f"{URL}: 1 good scrape(s): no delta over the run" in report.notes
    assert f"{URL}: no running series (vllm:num_requests_running)" in report.notes
    assert report.tables()["server_metrics"][1] == {"measure": "scrapes", "value": "1 ok, 0 failed"}


def test_alignment_falls_back_to_the_wall_clock() -> None:
    series = _series([vllm_text(1), vllm_text(2)], "vllm")
    report = server_report(series, [{"index": 0, "ok": False}], t0_unix_s=1.7e9)
    assert report.aligned_by == "wall clock"
    assert [s.t_s for s in series.samples] == pytest.approx([-0.5, 0.5])


def test_ollama_models_and_load_durations() -> None:
    endpoint = Endpoint("http://127.0.0.1:11434/api/ps", "ollama_ps", "ollama")
    loaded = [{"name": "qwen", "size_bytes": 500, "size_vram_bytes": 0, "expires_at": "t1"}]
    samples = [
        Sample(endpoint.url, 0.0, 1.0, models=[]),
        Sample(endpoint.url, 1.0, 2.0, models=loaded),
        Sample(endpoint.url, 2.0, 3.0, models=[{**loaded[0], "size_bytes": 700}]),
    ]
    series = Series([endpoint], samples)
    report = server_report(series, [_record(0)], None)
    assert report.ollama_models == [
        {
            "model": "qwen",
            "snapshots": 2,
            "size_bytes": 700,
            "size_vram_bytes": 0,
            "expires_at": "t1",
        }
    ]
    assert "Ollama's loaded models changed 1 time(s) during the run" in report.notes
    assert any("no request's record has Ollama's load_duration" in n for n in report.notes)
    records = [_record(0, load_duration_ns=2_000_000_000), _record(1, load_duration_ns=1_000)]
    report = server_report(Series([endpoint], samples), records, None)
    assert report.cold_loads == {"requests": 2, "cold": 1, "max_s": 2.0}
    assert "1 cold load(s): load_duration > 0.5 s (max 2.00 s)" in report.notes


def test_the_series_file_round_trips_next_to_the_records(tmp_path: Path) -> None:
    records_path = tmp_path / "stress-throughput-a.jsonl"
    series = _series([vllm_text(1), vllm_text(2)], "vllm")
    series.samples.append(Sample(URL, 3.0, 3.0, error="boom"))
    series.notes.append("a note")
    report: ServerReport = server_report(series, [_record(0)], None)
    path = series.write(series_path(records_path))
    assert path == tmp_path / "stress-throughput-a.server-metrics.jsonl"
    back = read_series(path)
    assert back is not None
    assert [e.to_dict() for e in back.endpoints] == [e.to_dict() for e in series.endpoints]
    assert [s.to_dict() for s in back.samples] == [s.to_dict() for s in series.samples]
    assert back.notes == ["a note"]
    assert json.loads(json.dumps(report.to_dict()))["endpoints"][0]["family"] == "vllm"
    assert read_series(tmp_path / "none.jsonl") is None
    assert Scrape.from_dict({"values": {"a": "x", "b": 2}}).values == {"b": 2.0}


def test_the_chart_puts_server_gauges_beside_client_ttft(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from pytest_llmserver.report import stress_charts

    records_path = tmp_path / "stress-throughput-a.jsonl"
    records = [_record(i) for i in range(6)]
    records_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    series = _series([vllm_text(n) for n in range(1, 5)], "vllm")
    server_report(series, records, None)
    stats = {"mode": "throughput"}
    assert not any(
        c.path.name.endswith("-server.png")
        for c in stress_charts(records_path, stats, tmp_path, "s")
    )
    series.write(series_path(records_path))
    charts = stress_charts(records_path, stats, tmp_path, "s")
    (server,) = [c for c in charts if c.path.name == "s-server.png"]
    assert server.title == "Server queue and KV cache against client TTFT"
    assert server.path.stat().st_size > 1000


def test_the_servers_queue_time_has_no_client_counterpart() -> None:
    def text(n: int) -> str:
        return (
            "# TYPE vllm:request_queue_time_seconds histogram\n"
            f'vllm:request_queue_time_seconds_bucket{{le="0.05"}} {n}\n'
            f'vllm:request_queue_time_seconds_bucket{{le="+Inf"}} {n}\n'
            f"vllm:request_queue_time_seconds_count {n}\n"
        )

    series = _series([text(1), text(5)], "vllm")
    report = server_report(series, [_record(0, queue_s=0.2)], None)
    (queue,) = report.endpoints[0].latency
    assert (queue.metric, queue.server_n, queue.client_n) == ("queue_s", 4, 0)
    assert queue.server["p50"] == pytest.approx(0.025)
    assert queue.client == {"p50": None, "p95": None, "p99": None}
    assert report.overhead == {}
