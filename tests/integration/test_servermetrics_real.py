"""The server's own metrics against the real llama.cpp server (xllamacpp + SmolLM2-135M,
started with its metrics endpoint on): a short throughput run scraped on the interval, whose
report shows llama.cpp's requests_processing / requests_deferred and token counters, and
whose server-counted tokens agree with the client-counted ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.local import LocalServer, LocalServerConfig
from pytest_llmserver.plugin.stress import attach_server_metrics
from pytest_llmserver.servermetrics import open_scraper, read_series, series_path
from pytest_llmserver.stress import StressTester, read_records, write_stress_report

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerRecord]:
    log = tmp_path_factory.mktemp("local") / "server.log"
    with LocalServer(LocalServerConfig(log_path=log, parallel=4)) as record:
        yield record


async def test_a_throughput_run_reports_llamacpps_own_metrics(
    real_server: ServerRecord, tmp_path: Path
) -> None:
    tester = StressTester(real_server, "smollm2-135m", max_tokens=32, out_dir=tmp_path)
    scraper = open_scraper(("auto",), real_server.url, real_server.type, interval_s=0.5)
    with scraper:
        stats = await tester.run_throughput_test(concurrency=4, total=8)
    assert stats.summary.ok == 8
    attach_server_metrics(stats, scraper)
    markdown, _ = write_stress_report(stats, tmp_path)
    text = markdown.read_text()
    assert "## Server metrics" in text
    for name in (
        "llamacpp:requests_processing mean / max",
        "llamacpp:requests_deferred mean / max",
        "llamacpp:tokens_predicted_total (delta)",
        "llamacpp:prompt_tokens_total (delta)",
    ):
        assert f"| {name} |" in text, name
    rows = {row["measure"]: row["value"] for row in stats.tables["server_metrics"]}
    assert rows["endpoint"] == f"{real_server.url}/metrics (llamacpp)"
    processing = float(rows["llamacpp:requests_processing mean / max"].split(" / ")[1])
    assert 1 <= processing <= 4  # four slots, four in flight
    series = read_series(series_path(stats.records_path))
    assert series is not None
    assert len(series.samples) >= 3
    # Server-counted against client-counted tokens over every request (warm-up included).
    records = list(read_records(stats.records_path))
    client_out = sum(r["output_tokens"] for r in records)
    client_prompt = sum(r["prompt_tokens"] for r in records)
    values = [s.scrape.values for s in series.samples if s.scrape is not None]
    generated = values[-1]["llamacpp:tokens_predicted_total"]
    generated -= values[0]["llamacpp:tokens_predicted_total"]
    assert generated == pytest.approx(client_out, rel=0.01)
    prompt = sum(
        values[-1][name] - values[0][name]
        for name in ("llamacpp:prompt_tokens_total", "llamacpp:prompt_tokens_cached_total")
    )
    assert prompt == pytest.approx(client_prompt, rel=0.01)


async def test_a_sweep_reports_llamacpps_counters_next_to_the_client_figures(
    real_server: ServerRecord, tmp_path: Path
) -> None:
    """Issue 15's acceptance on a short sweep (c=1, two rates, saturation: four points, each
    its own records file): llama.cpp's counters cover them all, and so do the client's."""
    tester = StressTester(real_server, "smollm2-135m", out_dir=tmp_path, output_tokens=16)
    scraper = open_scraper(("auto",), real_server.url, real_server.type, interval_s=0.5)
    with scraper:
        stats = await tester.run_sweep_test(
            2, min_requests=8, saturation_concurrency=8, min_point_s=1.0, max_point_s=20.0
        )
    assert [row["point"] for row in stats.tables["sweep"]] == [
        "synchronous",
        "rate 1",
        "rate 2",
        "saturated",
    ]
    attach_server_metrics(stats, scraper)
    rows = {row["measure"]: row["value"] for row in stats.tables["server_metrics"]}
    assert "llamacpp:requests_deferred mean / max" in rows
    assert float(rows["llamacpp:requests_processing mean / max"].split(" / ")[1]) >= 1
    assert abs(stats.figures["server_generated_tokens_diff_pct"]) <= 1.0
    assert abs(stats.figures["server_prompt_tokens_diff_pct"]) <= 1.0
