"""Discovery and scraping against a fake endpoint on 127.0.0.1: the target's ``/metrics`` (or
Ollama's ``/api/ps``), extra URLs, one-line errors, and a thread that samples on its interval
and stops with the run."""

from __future__ import annotations

import socket
import time

import pytest

from pytest_llmserver.servermetrics import MetricsError, Scraper, open_scraper
from tests.servermetrics.fake import FakeMetrics


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_auto_finds_the_targets_metrics_and_scrapes_on_the_interval() -> None:
    with FakeMetrics("vllm") as fake:
        scraper = open_scraper(("auto",), fake.url + "/v1", "openai", "key-1", interval_s=0.05)
        with scraper:
            time.sleep(0.4)
        assert not scraper._thread.is_alive()
        done = fake.scrapes
        time.sleep(0.15)
        assert fake.scrapes == done  # nothing after the run
    (endpoint,) = scraper.series.endpoints
    assert (endpoint.url, endpoint.kind, endpoint.family) == (
        fake.url + "/metrics",
        "prometheus",
        "vllm",
    )
    samples = scraper.series.samples
    assert len(samples) >= 5  # first, several on the interval, and the last after the run
    assert all(s.error is None and s.scrape is not None for s in samples)
    assert [s.t_perf_s for s in samples] == sorted(s.t_perf_s for s in samples)
    generated = [s.scrape.values["vllm:generation_tokens_total"] for s in samples if s.scrape]
    assert generated == [50.0 * n for n in range(2, len(samples) + 2)]  # 1: the discovery GET
    assert all(h.get("Authorization") == "Bearer key-1" for h in fake.headers)


def test_a_target_without_metrics_is_a_note_and_nothing_is_scraped() -> None:
    with FakeMetrics("none") as fake:
        scraper = open_scraper(("auto",), fake.url, "openai", interval_s=0.05)
        with scraper:
            time.sleep(0.1)
    assert scraper.series.endpoints == []
    assert scraper.series.samples == []
    assert scraper.series.notes == [f"not scraped: {fake.url}/metrics answered HTTP 404"]


def test_a_target_answering_html_is_a_note_but_an_extra_url_is_an_error() -> None:
    with FakeMetrics("html") as fake:
        scraper = open_scraper(("auto",), fake.url, "openai")
        (note,) = scraper.series.notes
        assert note.startswith(f"not scraped: {fake.url}/metrics is not Prometheus text: ")
        with pytest.raises(MetricsError) as caught:
            open_scraper(("auto", f"{fake.url}/metrics"), "http://127.0.0.1:9", "openai")
    message = str(caught.value)
    assert message.startswith(f"{fake.url}/metrics is not Prometheus text: invalid metric name")
    assert "\n" not in message


def test_an_extra_url_that_does_not_answer_is_one_line() -> None:
    url = f"http://127.0.0.1:{_free_port()}/metrics"
    with pytest.raises(
        MetricsError, match=r"^http://127\.0\.0\.1:\d+/metrics did not answer: Connect"
    ):
        open_scraper((f"{url}",), url.removesuffix("/metrics"), "openai")


def test_extra_urls_are_scraped_besides_the_target_without_its_key() -> None:
    with FakeMetrics("llamacpp") as target, FakeMetrics("vllm") as extra:
        targets = ("auto", f"{extra.url}/metrics")
        scraper = open_scraper(targets, target.url, "openai", "key-2", interval_s=0.05)
        with scraper:
            time.sleep(0.12)
    families = [(e.url, e.family) for e in scraper.series.endpoints]
    assert families == [(f"{target.url}/metrics", "llamacpp"), (f"{extra.url}/metrics", "vllm")]
    assert len(scraper.series.of(f"{extra.url}/metrics")) >= 2
    assert all("Authorization" not in h for h in extra.headers)
    assert all(h.get("Authorization") == "Bearer key-2" for h in target.headers)


def test_off_scrapes_nothing() -> None:
    with FakeMetrics("vllm") as fake:
        with open_scraper(("off",), fake.url, "openai") as scraper:
            time.sleep(0.05)
        assert fake.scrapes == 0
    assert scraper.series.endpoints == []
    assert scraper.series.notes == []


def test_ollama_without_metrics_is_sampled_through_api_ps() -> None:
    with FakeMetrics("ollama") as fake:
        scraper = open_scraper(("auto",), fake.url, "ollama", interval_s=0.05)
        with scraper:
            time.sleep(0.12)
    (endpoint,) = scraper.series.endpoints
    assert (endpoint.url, endpoint.kind) == (f"{fake.url}/api/ps", "ollama_ps")
    models = [s.models for s in scraper.series.samples]
    assert len(models) >= 2
    assert all(m is not None and m[0]["name"] == "qwen:0.5b" for m in models)
    assert all(m is not None and m[0]["expires_at"] == "2026-11-30T10:00:00Z" for m in models)


def test_an_endpoint_that_goes_away_mid_run_leaves_error_samples() -> None:
    fake = FakeMetrics("vllm").__enter__()
    scraper: Scraper = open_scraper(("auto",), fake.url, "openai", interval_s=0.05)
    with scraper:
        time.sleep(0.08)
        fake.close()
        time.sleep(0.15)
    errors = [s.error for s in scraper.series.samples if s.error is not None]
    assert errors
    assert all(e.startswith(f"{fake.url}/metrics did not answer: ") for e in errors)
    assert any(s.scrape is not None for s in scraper.series.samples)
