"""ModelClient against the simulated server: exact timing, reasoning, tool calls, every fault."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from pytest_llmserver.client import (
    ChatMetrics,
    LLMHTTPStatusError,
    LLMProtocolError,
    LLMServerEventError,
    LLMStreamClosedError,
    LLMTimeoutError,
    ModelClient,
    Timeouts,
)
from pytest_llmserver.sim import (
    Fault,
    ScriptedPolicy,
    SimConfig,
    SimProcess,
    SimReply,
    SimThread,
    SimToolCall,
    TimingModel,
)

APIS = ["openai", "ollama"]
TTFT_S, PER_TOKEN_S, ANSWER_TOKENS = 0.200, 0.020, 40


@pytest.fixture(scope="module")
def timed_sim_url() -> Iterator[str]:
    """The sim in its own process (its own GIL), TTFT 200 ms and 20 ms per token."""
    with SimProcess(
        f"--ttft-ms={TTFT_S * 1e3}",
        f"--token-ms={PER_TOKEN_S * 1e3}",
        f"--answer-tokens={ANSWER_TOKENS}",
    ) as url:
        yield url


def server_stamps(m: ChatMetrics) -> tuple[float, float]:
    """The sim's own measure of what it did: (prefill, decode) seconds, from its timings
    (OpenAI, llama.cpp style) or its eval durations (Ollama)."""
    assert m.prompt_eval_duration_ns is not None
    assert m.eval_duration_ns is not None
    return m.prompt_eval_duration_ns * 1e-9, m.eval_duration_ns * 1e-9


def assert_timing(client: ModelClient, ttft_tol_s: float = 0.005, rate_rel: float = 0.02) -> None:
    m = client.last_metrics
    assert m is not None
    assert m.output_tokens == ANSWER_TOKENS
    assert m.ttfb_s is not None
    assert m.ttft is not None
    prefill_s, decode_s = server_stamps(m)
    assert prefill_s >= TTFT_S - 0.001  # the sim never answers before its deadline
    # What the client saw is what the sim did, give or take loopback and event-loop latency.
    assert m.ttft == pytest.approx(prefill_s, abs=ttft_tol_s)
    assert m.decode_tps == pytest.approx((ANSWER_TOKENS - 1) / decode_s, rel=rate_rel)
    if client.api == "openai":  # llama.cpp-style timings: (n - 1) / decode time
        assert m.server_decode_tps == pytest.approx(m.decode_tps, rel=0.02)
    # OpenAI servers send a role-only chunk at once; Ollama's first line is the first token.
    assert m.ttfb_s < m.ttft if client.api == "openai" else m.ttfb_s == m.ttft
    assert m.e2e_s == pytest.approx(prefill_s + decode_s, abs=0.01)


@pytest.mark.timing
@pytest.mark.parametrize("api", APIS)
async def test_timing_concurrency_1(timed_sim_url: str, api: str) -> None:
    async with ModelClient({"url": timed_sim_url, "type": api}, "sim-small") as client:
        for _ in range(3):
            assert await client.chat("Hello there")
            assert_timing(client)


@pytest.mark.timing
@pytest.mark.parametrize("api", APIS)
async def test_timing_concurrency_32(timed_sim_url: str, api: str) -> None:
    async with ModelClient(
        {"url": timed_sim_url, "type": api}, "sim-small", concurrency=32
    ) as client:
        responses = await asyncio.gather(
            *(client.complete([{"role": "user", "content": f"q{i}"}]) for i in range(32))
        )
    # 32 streams share one event loop: a stamp is taken when its coroutine resumes, so a few
    # ms of loop lag show up (measured: medians within 9 ms, rates within 2.5%).
    lags = sorted((r.metrics.ttft_s or 0.0) - server_stamps(r.metrics)[0] for r in responses)
    assert lags[len(lags) // 2] == pytest.approx(0.0, abs=0.010)
    for response in responses:
        m = response.metrics
        prefill_s, decode_s = server_stamps(m)
        assert m.ttft is not None
        assert m.ttft == pytest.approx(prefill_s, abs=0.015)
        assert m.decode_tps == pytest.approx((ANSWER_TOKENS - 1) / decode_s, rel=0.05)
        assert m.output_tokens == ANSWER_TOKENS


@pytest.mark.timing
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("style", ["field", "inline"])
async def test_reasoning_stream_ttft_and_ttfc(api: str, style: str) -> None:
    timing = TimingModel(ttft_s=0.050, per_token_s=0.010)
    with SimThread(SimConfig(timing=timing, reasoning_style=style)) as sim:  # type: ignore[arg-type]
        async with ModelClient({"url": sim.url, "type": api}, "sim-reasoner") as client:
            answer = await client.chat("Why is the sky blue?")
    response = client.last_response
    assert response is not None
    m = response.metrics
    assert answer
    assert "<think>" not in answer
    assert response.reasoning
    assert m.reasoning_tokens > 0
    prefill_s, decode_s = server_stamps(m)
    assert prefill_s >= 0.050 - 0.001
    assert m.ttft_s is not None
    assert m.ttft_s == pytest.approx(prefill_s, abs=0.006)
    # OpenAI usage counts reasoning tokens; Ollama reports none, so the client counts events.
    assert m.reasoning_tokens_source == ("usage" if api == "openai" else "estimate")
    # The sim sends split think tags in the same instant as the reasoning tokens they wrap,
    # so the first answer token is generated token number `reasoning_tokens`, one sim token
    # time (its decode span over its gaps) after another.
    per_token_s = decode_s / (m.output_tokens - 1)
    assert m.ttfc_s == pytest.approx(m.ttft_s + m.reasoning_tokens * per_token_s, abs=0.006)


@pytest.mark.parametrize("api", APIS)
async def test_parallel_tool_calls_and_malformed_arguments(api: str) -> None:
    reply = SimReply(
        tool_calls=(
            SimToolCall("functions.get_weather", {"city": "Oslo"}),
            SimToolCall("calculator", '{"expression": "2+2",,}'),
        )
    )
    config = SimConfig(
        timing=TimingModel(ttft_s=0.01, per_token_s=0.001), policy=ScriptedPolicy([reply])
    )
    with SimThread(config) as sim:
        async with ModelClient({"url": sim.url, "type": api}, "sim-small") as client:
            response = await client.chat_with_tools([{"role": "user", "content": "go"}], [{}])
    first, second = response.tool_calls
    assert (first.name, first.arguments) == ("functions.get_weather", {"city": "Oslo"})
    assert second.name == "calculator"
    assert second.malformed
    assert response.metrics.ttf_tool_call_s is not None


@pytest.fixture(scope="module")
def fault_sim_url() -> Iterator[str]:
    config = SimConfig(timing=TimingModel(ttft_s=0.01, per_token_s=0.002), stall_s=1.0)
    with SimThread(config) as sim:
        yield sim.url


async def run_with_fault(url: str, api: str, fault: Fault, **kwargs: object) -> ModelClient:
    client = ModelClient(
        {"url": url, "type": api},
        "sim-small",
        headers={"x-sim-fault": fault.value},
        **kwargs,  # type: ignore[arg-type]
    )
    async with client:
        await client.chat("hello")
    return client


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        (Fault.HTTP_500, LLMHTTPStatusError, "HTTP 500 from .*simulated"),
        (Fault.CLOSE_MID_STREAM, LLMStreamClosedError, "broke mid-response|ended before"),
        (Fault.MALFORMED_EVENT, LLMProtocolError, "malformed"),
        (Fault.ERROR_EVENT, LLMServerEventError, "error"),
        (Fault.HTML, LLMProtocolError, "HTML|not JSON"),
    ],
)
async def test_fault_gives_typed_error(
    fault_sim_url: str, api: str, fault: Fault, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as info:
        await run_with_fault(fault_sim_url, api, fault)
    assert info.value.__class__ is error


@pytest.mark.parametrize("api", APIS)
async def test_stall_hits_the_read_timeout(fault_sim_url: str, api: str) -> None:
    timeouts = Timeouts(connect_s=1.0, read_s=0.3, total_s=5.0)
    with pytest.raises(LLMTimeoutError, match="read inactivity") as info:
        await run_with_fault(fault_sim_url, api, Fault.STALL, timeouts=timeouts)
    assert info.value.metrics is not None
    assert info.value.metrics.ttft_s is not None


@pytest.mark.parametrize("api", APIS)
async def test_missing_usage_falls_back_to_estimates(fault_sim_url: str, api: str) -> None:
    client = await run_with_fault(fault_sim_url, api, Fault.NO_USAGE)
    m = client.last_metrics
    assert m is not None
    assert m.output_tokens_source == "estimate"
    assert m.output_tokens == m.token_events > 0
    assert m.prompt_tokens_source == "estimate"


async def test_stream_options_refused_then_served_without(fault_sim_url: str) -> None:
    client = await run_with_fault(fault_sim_url, "openai", Fault.REJECT_STREAM_OPTIONS)
    m = client.last_metrics
    assert m is not None
    assert m.usage_fallback
    assert m.output_tokens > 0


async def test_unknown_model_is_a_404_naming_it(fault_sim_url: str) -> None:
    for api in APIS:
        async with ModelClient({"url": fault_sim_url, "type": api}, "nope") as client:
            with pytest.raises(LLMHTTPStatusError, match=r"404 .*nope") as info:
                await client.chat("x")
        assert info.value.status_code == 404
