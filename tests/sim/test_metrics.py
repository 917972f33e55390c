"""The simulator's ``/metrics``: Prometheus text that parses, with vLLM's or llama.cpp's names
and types, and counters equal to what the clients received."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pytest_llmserver.sim import (
    DefaultPolicy,
    SimConfig,
    SimProcess,
    SimServer,
    SimThread,
    TimingModel,
)
from pytest_llmserver.sim.cli import build_parser, config_from_args
from tests.sim.helpers import FAST, USER
from tests.sim.test_capacity import settle

TOKENS = 7
Key = tuple[str, frozenset[tuple[str, str]]]


def _config(**extra: Any) -> SimConfig:
    return SimConfig(timing=FAST, policy=DefaultPolicy(TOKENS, 0), **extra)


async def _scrape(http: httpx.AsyncClient, url: str) -> tuple[dict[str, str], dict[Key, float]]:
    """(type of each family, value of each sample keyed by name and labels)."""
    response = await http.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    types: dict[str, str] = {}
    values: dict[Key, float] = {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return types, values


def _model(model: str, **labels: str) -> frozenset[tuple[str, str]]:
    return frozenset({"model_name": model, "engine": "0", **labels}.items())


async def _chat(http: httpx.AsyncClient, url: str, content: str) -> dict[str, Any]:
    body = {"model": "sim-small", "messages": [{"role": "user", "content": content}]}
    reply = await http.post(url + "/v1/chat/completions", json=body)
    assert reply.status_code == 200
    result: dict[str, Any] = reply.json()
    return result


VLLM_TYPES = {
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:gpu_cache_usage_perc": "gauge",
    "vllm:num_preemptions": "counter",
    "vllm:prompt_tokens": "counter",
    "vllm:generation_tokens": "counter",
    "vllm:request_success": "counter",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:inter_token_latency_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:request_queue_time_seconds": "histogram",
    "vllm:request_inference_time_seconds": "histogram",
    "vllm:request_prefill_time_seconds": "histogram",
    "vllm:request_decode_time_seconds": "histogram",
}


async def test_vllm_counters_equal_what_the_clients_received() -> None:
    async with SimServer(_config()) as sim, httpx.AsyncClient(timeout=10.0) as http:
        types, before = await _scrape(http, sim.url)
        assert types == VLLM_TYPES
        assert before[("vllm:generation_tokens_total", _model("sim-small"))] == 0
        replies = await asyncio.gather(*(_chat(http, sim.url, f"question {i}") for i in range(5)))
        await settle(lambda: sim.metrics.running == 0)
        _types, after = await _scrape(http, sim.url)
    usage = [reply["usage"] for reply in replies]
    small = _model("sim-small")
    assert after[("vllm:generation_tokens_total", small)] == 5 * TOKENS
    assert after[("vllm:generation_tokens_total", small)] == sum(
        u["completion_tokens"] for u in usage
    )
    assert after[("vllm:prompt_tokens_total", small)] == sum(u["prompt_tokens"] for u in usage)
    assert after[("vllm:request_success_total", _model("sim-small", finished_reason="stop"))] == 5
    assert after[("vllm:time_to_first_token_seconds_count", small)] == 5
    assert after[("vllm:inter_token_latency_seconds_count", small)] == 5 * (TOKENS - 1)
    assert after[("vllm:e2e_request_latency_seconds_count", small)] == 5
    assert after[("vllm:request_queue_time_seconds_sum", small)] == 0.0
    assert after[("vllm:num_preemptions_total", small)] == 0
    for gauge in ("num_requests_running", "num_requests_waiting", "kv_cache_usage_perc"):
        assert after[(f"vllm:{gauge}", small)] == 0
    # the first model has its series from the start, the others once asked for
    assert ("vllm:generation_tokens_total", _model("sim-reasoner")) not in after


async def test_vllm_histogram_buckets_are_cumulative() -> None:
    async with SimServer(_config()) as sim, httpx.AsyncClient(timeout=10.0) as http:
        await _chat(http, sim.url, "hello")
        await settle(lambda: sim.metrics.running == 0)
        _types, values = await _scrape(http, sim.url)
    name = "vllm:time_to_first_token_seconds"
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (sample, labels), value in values.items()
        if sample == f"{name}_bucket" and dict(labels)["model_name"] == "sim-small"
    )
    counts = [count for _le, count in buckets]
    assert counts == sorted(counts)
    assert buckets[-1] == (float("inf"), 1.0)
    assert values[(f"{name}_sum", _model("sim-small"))] > 0.0


async def test_queue_and_kv_gauges_while_requests_wait() -> None:
    timing = TimingModel(ttft_s=0.3, per_token_s=0.001)
    config = SimConfig(timing=timing, slots=1, kv_cache_tokens=100, policy=DefaultPolicy(3, 0))
    async with SimServer(config) as sim, httpx.AsyncClient(timeout=10.0) as http:
        body = {"model": "sim-small", "messages": USER}
        posts = [
            asyncio.ensure_future(http.post(sim.url + "/v1/chat/completions", json=body))
            for _ in range(3)
        ]
        await settle(lambda: sim.metrics.of("sim-small").waiting == 2)
        _types, during = await _scrape(http, sim.url)
        await asyncio.gather(*posts)
        await settle(lambda: sim.metrics.running == 0)
        _types, after = await _scrape(http, sim.url)
    small = _model("sim-small")
    assert during[("vllm:num_requests_running", small)] == 1
    assert during[("vllm:num_requests_waiting", small)] == 2
    # the running request holds its 6 prompt tokens and has generated none yet
    assert during[("vllm:kv_cache_usage_perc", small)] == pytest.approx(0.06)
    assert during[("vllm:gpu_cache_usage_perc", small)] == pytest.approx(0.06)
    assert after[("vllm:request_queue_time_seconds_count", small)] == 3
    assert after[("vllm:request_queue_time_seconds_sum", small)] > 0.3 * 2


LLAMACPP_TYPES = {
    "llamacpp:prompt_tokens": "counter",
    "llamacpp:prompt_seconds": "counter",
    "llamacpp:tokens_predicted": "counter",
    "llamacpp:tokens_predicted_seconds": "counter",
    "llamacpp:n_decode": "counter",
    "llamacpp:prompt_tokens_seconds": "gauge",
    "llamacpp:predicted_tokens_seconds": "gauge",
    "llamacpp:requests_processing": "gauge",
    "llamacpp:requests_deferred": "gauge",
    "llamacpp:n_busy_slots_per_decode": "gauge",
}


def _plain(values: dict[Key, float]) -> Callable[[str], float]:
    return lambda name: values[(f"llamacpp:{name}", frozenset())]


async def test_llamacpp_counters_equal_what_the_clients_received() -> None:
    async with SimServer(_config(persona="llamacpp")) as sim, httpx.AsyncClient() as http:
        types, _before = await _scrape(http, sim.url)
        assert types == LLAMACPP_TYPES
        question = " ".join(f"word{i}" for i in range(40))
        first = await _chat(http, sim.url, question)
        second = await _chat(http, sim.url, question)  # its prefix is cached
        await settle(lambda: sim.metrics.running == 0)
        _types, values = await _scrape(http, sim.url)
        _types, again = await _scrape(http, sim.url)
    value = _plain(values)
    timings = [first["timings"], second["timings"]]
    assert second["timings"]["cache_n"] > 0
    assert value("prompt_tokens_total") == sum(t["prompt_n"] for t in timings)
    assert value("tokens_predicted_total") == 2 * TOKENS
    assert value("tokens_predicted_total") == sum(t["predicted_n"] for t in timings)
    assert value("n_decode_total") == 2 * TOKENS  # one prefill and TOKENS - 1 steps each
    assert value("n_busy_slots_per_decode") == 1.0  # one request at a time
    assert value("requests_processing") == value("requests_deferred") == 0
    assert value("prompt_seconds_total") > 0.0
    assert value("predicted_tokens_seconds") > 0.0
    # llama.cpp's rate gauges cover the work since the previous scrape
    assert _plain(again)("predicted_tokens_seconds") == 0.0
    assert _plain(again)("tokens_predicted_total") == 2 * TOKENS


async def test_llamacpp_deferred_counts_the_queue() -> None:
    timing = TimingModel(ttft_s=0.3, per_token_s=0.001)
    config = SimConfig(timing=timing, slots=2, persona="llamacpp", policy=DefaultPolicy(2, 0))
    async with SimServer(config) as sim, httpx.AsyncClient(timeout=10.0) as http:
        body = {"model": "sim-small", "messages": USER}
        posts = [
            asyncio.ensure_future(http.post(sim.url + "/v1/chat/completions", json=body))
            for _ in range(5)
        ]
        await settle(lambda: sim.metrics.of("sim-small").waiting == 3)
        _types, during = await _scrape(http, sim.url)
        props = (await http.get(sim.url + "/props")).json()
        await asyncio.gather(*posts)
    assert props["total_slots"] == 2
    assert _plain(during)("requests_processing") == 2
    assert _plain(during)("requests_deferred") == 3


@pytest.mark.parametrize(
    ("persona", "metrics"),
    [("ollama", "auto"), ("openai", "auto"), ("sim", "off"), ("vllm", "off")],
)
async def test_no_metrics_endpoint(persona: Any, metrics: Any) -> None:
    config = SimConfig(persona=persona, metrics=metrics)
    async with SimServer(config) as sim, httpx.AsyncClient() as http:
        assert (await http.get(sim.url + "/metrics")).status_code == 404


def test_flavour_follows_the_persona_unless_given() -> None:
    assert SimConfig().metrics_flavour == "vllm"
    assert SimConfig(persona="vllm").metrics_flavour == "vllm"
    assert SimConfig(persona="llamacpp").metrics_flavour == "llamacpp"
    assert SimConfig(persona="ollama").metrics_flavour == "off"
    assert SimConfig(persona="sim", metrics="llamacpp").metrics_flavour == "llamacpp"
    with pytest.raises(ValueError, match="unknown metrics 'prom'"):
        SimConfig(metrics="prom")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kv_cache_tokens must be >= 1, got 0"):
        SimConfig(kv_cache_tokens=0)


def test_command_line_sets_slots_and_metrics() -> None:
    args = build_parser().parse_args(["--slots=4", "--metrics=llamacpp", "--kv-cache-tokens=512"])
    config = config_from_args(args)
    assert (config.slots, config.metrics, config.kv_cache_tokens) == (4, "llamacpp", 512)
    default = config_from_args(build_parser().parse_args([]))
    assert (default.slots, default.metrics) == (None, "auto")


def test_process_and_thread_serve_slots_and_metrics() -> None:
    with SimProcess("--slots=2", "--persona=llamacpp", "--ttft-ms=5") as url:
        assert httpx.get(url + "/props", timeout=5.0).json()["total_slots"] == 2
        text = httpx.get(url + "/metrics", timeout=5.0).text
        assert "# TYPE llamacpp:requests_deferred gauge" in text.splitlines()
    with SimThread(_config(slots=1)) as runner:
        body = {"model": "sim-small", "messages": USER}
        reply = httpx.post(runner.url + "/v1/chat/completions", json=body, timeout=5.0)
        deadline = time.monotonic() + 5.0
        while not runner.metrics.records and time.monotonic() < deadline:
            time.sleep(0.01)
        records = list(runner.metrics.records)
    assert [(r.completion_tokens, r.queued_s) for r in records] == [(TOKENS, 0.0)]
    assert reply.json()["usage"]["completion_tokens"] == TOKENS
