"""``--llm-server-metrics`` under pytest: a stress run against the simulator scrapes an extra
endpoint, writes the series next to its records and shows the summary in its report; an
extra URL that is not Prometheus text fails the test with one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.settings import Settings, SettingsError
from tests.servermetrics.fake import FakeMetrics

RUN = (
    "--llm-server=sim",
    "-p",
    "no:cacheprovider",
    "-m",
    "throughput",
    "--llm-sweep=2",
    "--llm-total=6",
)


def _latest(pytester: pytest.Pytester) -> Path:
    return pytester.path / "logs" / "latest"


def test_a_stress_run_scrapes_and_reports_the_servers_metrics(
    llm_pytester: pytest.Pytester,
) -> None:
    with FakeMetrics("vllm") as fake:
        result = llm_pytester.runpytest_inprocess(
            *RUN,
            f"--llm-server-metrics={fake.url}/metrics",
            "--llm-server-metrics-interval=0.1",
            f"--llm-logs={llm_pytester.path / 'logs'}",
        )
    result.assert_outcomes(passed=1)
    latest = _latest(llm_pytester)
    (json_path,) = latest.glob("stress-throughput-*.json")
    report: dict[str, Any] = json.loads(json_path.read_text())
    rows = {row["measure"]: row["value"] for row in report["tables"]["server_metrics"]}
    ours = f"{fake.url}/metrics"
    # The simulator's own /metrics (when it has one) is scraped too: rows name their endpoint.
    prefix = "" if "endpoint" in rows else f"{ours}: "
    assert rows[f"{prefix}endpoint"] == f"{ours} (vllm)"
    assert "; client " in rows[f"{prefix}vllm:generation_tokens_total (delta)"]
    assert report["tables"]["server_vs_client_latency"][0]["metric"].startswith("ttft_s")
    markdown = json_path.with_suffix(".md").read_text()
    assert "## Server metrics" in markdown
    assert "## Server vs client latency" in markdown
    (series,) = latest.glob("stress-throughput-*.server-metrics.jsonl")
    lines = [json.loads(line) for line in series.read_text().splitlines()]
    samples = [line for line in lines[1:] if line["url"] == f"{fake.url}/metrics"]
    assert len(samples) >= 2
    assert all(isinstance(s["t_s"], float) for s in samples)


def test_an_extra_url_that_is_not_prometheus_text_fails_with_one_line(
    llm_pytester: pytest.Pytester,
) -> None:
    with FakeMetrics("html") as fake:
        result = llm_pytester.runpytest_inprocess(
            *RUN, f"--llm-server-metrics={fake.url}/metrics", f"--llm-logs={llm_pytester.path}"
        )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"*--llm-server-metrics: {fake.url}/metrics is not Prometheus text: invalid metric name*"]
    )


def test_the_options_from_ini_and_environment() -> None:
    ini = Settings.resolve({}, {}, {"server_metrics": "http://127.0.0.1:9100/metrics"})
    assert ini.stress.server_metrics == ("auto", "http://127.0.0.1:9100/metrics")
    env = Settings.resolve({}, {"LLM_SERVER_METRICS_INTERVAL": "0.5"}, {})
    assert env.stress.server_metrics_interval_s == 0.5
    assert Settings.defaults().stress.server_metrics == ("auto",)
    with pytest.raises(
        SettingsError, match=r"^--llm-server-metrics-interval: '0' is not a positive"
    ):
        Settings.resolve({"server_metrics_interval": "0"}, {}, {})
