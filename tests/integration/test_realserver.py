"""Against the real llama.cpp server (xllamacpp) with SmolLM2-135M, started for this module."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.arena import (
    SELF_JUDGE_WARNING,
    TEST_QUESTIONS,
    PromptArena,
    write_arena_report,
)
from pytest_llmserver.client import LLMContextOverflowError, ModelClient, ServerRecord
from pytest_llmserver.discovery import probe_url, scan_network, server_slots
from pytest_llmserver.local import LocalServer, LocalServerConfig
from pytest_llmserver.stress import StressTester, iter_records

pytestmark = pytest.mark.realserver

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
# One worked example: the 135M model then answers with a real <tool_call>.
EXAMPLE: list[dict[str, Any]] = [
    {"role": "user", "content": "What is the weather in Rome?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"city": "Rome", "temp_c": 21}'},
    {"role": "assistant", "content": "It is 21 C in Rome."},
]


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerRecord]:
    log = tmp_path_factory.mktemp("local") / "server.log"
    with LocalServer(LocalServerConfig(log_path=log, parallel=4)) as record:
        yield record


@pytest.fixture
async def client(real_server: ServerRecord) -> AsyncIterator[ModelClient]:
    async with ModelClient(real_server, real_server.models[0], temperature=0.0) as c:
        yield c


async def test_probe_identifies_llamacpp(real_server: ServerRecord) -> None:
    record = await probe_url(real_server.url)
    assert (record.type, record.kind, record.models) == ("openai", "llamacpp", ["smollm2-135m"])


async def test_discovery_finds_and_describes_the_real_server(real_server: ServerRecord) -> None:
    found = await scan_network(
        subnet=f"{real_server.ip}/32", ports=[real_server.port], loopback_only=True
    )
    assert [(s.url, s.kind, s.models) for s in found] == [
        (real_server.url, "llamacpp", ["smollm2-135m"])
    ]
    info = found[0].model_info[0]
    assert info.context_length == 16384 // 4  # each of the 4 slots gets a quarter of n_ctx
    assert info.size_bytes is not None
    assert 90e6 < info.size_bytes < 110e6
    assert info.quantization == "Q4_1"


async def test_streaming_with_usage_and_server_timings(client: ModelClient) -> None:
    client.extra_body = {"ignore_eos": True}
    pieces = [p async for p in client.chat_stream("Name three colours.", max_tokens=24)]
    m = client.last_metrics
    assert m is not None
    assert len(pieces) == m.token_events == m.output_tokens == 24
    assert m.send_traced
    assert m.output_tokens_source == "usage"
    assert m.prompt_tokens_source == "usage"
    assert m.prompt_tokens is not None
    assert m.prompt_tokens > 5
    assert m.cached_tokens is not None
    assert m.ttfb_s is not None
    assert m.ttft_s is not None
    assert m.e2e_s is not None
    assert 0 < m.ttfb_s <= m.ttft_s < m.e2e_s < 30
    assert m.server_decode_tps is not None
    assert m.server_decode_tps > 0
    assert m.server_prefill_tps is not None
    assert m.server_prefill_tps > 0
    assert m.eval_duration_ns is not None
    assert m.eval_duration_ns > 0
    assert len(m.itl_s) == m.token_events - 1


async def test_client_decode_rate_matches_server_timings(client: ModelClient) -> None:
    client.extra_body = {"ignore_eos": True}
    for prompt in ("Tell a story about a lighthouse.", "Describe a busy market."):
        await client.chat(prompt, max_tokens=128)
        m = client.last_metrics
        assert m is not None
        assert m.output_tokens == 128
        assert m.decode_tps is not None
        assert m.server_decode_tps is not None
        assert m.decode_tps == pytest.approx(m.server_decode_tps, rel=0.15)


async def test_tool_call_round_trip(client: ModelClient) -> None:
    messages = [*EXAMPLE, {"role": "user", "content": "What is the weather in Paris?"}]
    first = await client.chat_with_tools(messages, [WEATHER])
    assert first.finish_reason == "tool_calls"
    assert [c.name for c in first.tool_calls] == ["get_weather"]
    call = first.tool_calls[0]
    assert call.arguments == {"city": "Paris"}
    assert first.metrics.ttf_tool_call_s is not None
    result = json.dumps({"city": "Paris", "temp_c": 18})
    messages += [first.assistant_message(), client.tool_result_message(call, result)]
    final = await client.chat_with_tools(messages, [WEATHER])
    assert final.tool_calls == []
    assert "18" in final.content
    assert final.metrics.prompt_tokens is not None
    assert first.metrics.prompt_tokens is not None
    assert final.metrics.prompt_tokens > first.metrics.prompt_tokens


async def test_non_streamed_reply(client: ModelClient) -> None:
    response = await client.complete(
        [{"role": "user", "content": "Say hi."}], max_tokens=8, stream=False
    )
    assert response.content
    assert response.metrics.output_tokens_source == "usage"
    assert response.metrics.server_decode_tps is not None


async def test_four_concurrent_streams(real_server: ServerRecord) -> None:
    async with ModelClient(real_server, "smollm2-135m", concurrency=4) as c:
        prompts = [f"Write a line about the number {i}." for i in range(4)]
        responses = await asyncio.gather(
            *(c.complete([{"role": "user", "content": p}], max_tokens=32) for p in prompts)
        )
    assert all(r.metrics.output_tokens > 0 and r.metrics.ttft_s for r in responses)


async def test_prompt_longer_than_the_context_is_a_typed_error(client: ModelClient) -> None:
    with pytest.raises(LLMContextOverflowError) as info:
        await client.chat("lorem " * 6000, max_tokens=4)
    assert info.value.status_code == 400


EMPTY_DIR_TEST = """
import pytest

async def test_hello(llm_client):
    answer = await llm_client.chat("Say hello.", max_tokens=16)
    print("ANSWER", repr(answer), "TTFT", llm_client.last_metrics.ttft_s)
"""


def test_user_test_from_an_empty_directory(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_hello=EMPTY_DIR_TEST)
    result = pytester.runpytest_subprocess(
        "test_hello.py",
        "--llm-server=local",
        "-p",
        "pytest_llmserver",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ANSWER * TTFT 0.*"])


def test_quick_tool_bench_tier_on_the_real_model(pytester: pytest.Pytester) -> None:
    """SmolLM2 is far too small to pass; what is checked is that every task completes with a
    score and a reason, and that the report is written."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    logs = pytester.path / "logs"
    result = pytester.runpytest_subprocess(
        "--llm-server=local",
        "-m",
        "toolbench and quick",
        "--llm-max-tokens=160",
        f"--llm-logs={logs}",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 7
    data = json.loads((logs / "latest" / "toolbench.json").read_text())
    assert data["model"] == "smollm2-135m"
    assert len(data["tasks"]) == 7
    for task in data["tasks"]:
        (trial,) = task["trials"]
        assert trial["score"]["passed"] or trial["score"]["reason"]
        assert trial["trajectory"]["steps"]
    assert (logs / "latest" / "toolbench.md").read_text().startswith("# Tool bench: smollm2-135m")


@pytest.mark.timing
async def test_stress_throughput_on_the_real_server(
    real_server: ServerRecord, tmp_path: Path
) -> None:
    tester = StressTester(real_server, "smollm2-135m", max_tokens=48, out_dir=tmp_path)
    stats = await tester.run_throughput_test(concurrency=4, total=8)
    assert stats.summary.ok == 8
    ttft = stats.summary.metrics.ttft_s
    assert ttft is not None
    assert ttft.min > 0
    ratios = [
        r["decode_tps"] / r["server_decode_tps"]
        for chunk in iter_records(stats.records_path)
        for r in chunk
        if not r["warmup"] and r["decode_tps"] and r["server_decode_tps"] and r["output_tokens"] > 8
    ]
    assert ratios
    assert sorted(ratios)[len(ratios) // 2] == pytest.approx(1.0, abs=0.2)


async def test_token_stress_on_the_real_server(real_server: ServerRecord, tmp_path: Path) -> None:
    tester = StressTester(real_server, "smollm2-135m", max_tokens=16, out_dir=tmp_path)
    stats = await tester.run_token_stress_test([200, 6000, 800])
    small, too_big, large = stats.tables["sizes"]
    assert too_big["error"] == (
        "6000 prompt tokens + 16 output tokens exceed the server's context of 4096 tokens "
        "per request"
    )
    for row, target in ((small, 200), (large, 800)):
        assert row["error"] is None
        assert row["count_source"] == "usage"
        assert abs(row["prompt_tokens"] - target) <= 0.02 * target
        assert row["ttft_s"] > 0
        assert row["prefill_tps"] > 0
    assert stats.figures["context_limit_tokens"] == 4096


async def test_salted_prompts_miss_the_cache_and_a_shared_prefix_hits_it(
    real_server: ServerRecord, tmp_path: Path
) -> None:
    """Unsalted, 16-22 of 17-23 prompt tokens came from llama.cpp's cache; salted, only the
    chat template's opening tokens (and a chance first salt token) can. Its own seed: salts
    repeat with the seed, and the throughput test above ran with seed 0."""
    salted = StressTester(real_server, "smollm2-135m", max_tokens=4, out_dir=tmp_path, seed=14)
    stats = await salted.run_throughput_test(concurrency=4, total=8)
    cached = [r["cached_tokens"] for c in iter_records(stats.records_path) for r in c]
    assert len(cached) == 9  # the warm-up too
    assert max(cached) <= 10
    shared = StressTester(
        real_server, "smollm2-135m", max_tokens=4, out_dir=tmp_path, shared_prefix_tokens=200
    )
    cache = (await shared.run_throughput_test(concurrency=4, total=8)).summary.prompt_cache
    assert cache.reporting == 8
    assert cache.cached_share is not None
    assert cache.cached_share > 0.3


async def test_requested_token_lengths_are_what_llamacpp_counts(
    real_server: ServerRecord, tmp_path: Path
) -> None:
    """Issue 14's acceptance: c=4, n=16, 256 input and 64 output tokens: every prompt within
    2% of 256 tokens (the calibration makes it exact), every reply 64 tokens, none cached."""
    tester = StressTester(
        real_server, "smollm2-135m", out_dir=tmp_path, input_tokens=256, output_tokens=64
    )
    stats = await tester.run_throughput_test(concurrency=4, total=16)
    assert stats.summary.ok == 16
    assert stats.params["prompt_calibration"]["method"] == "tokenize"
    assert stats.params["output_control"] == "fixed: max_tokens + ignore_eos"
    for result in tester.results:
        assert abs((result.metrics.prompt_tokens or 0) - 256) <= 0.02 * 256
        assert result.metrics.output_tokens == 64
        assert result.metrics.cached_tokens == 0
    assert stats.summary.lengths["input"].off == 0


async def test_a_tiny_prompt_arena_completes_and_reports(
    real_server: ServerRecord, tmp_path: Path
) -> None:
    async with ModelClient(real_server, real_server.models[0], temperature=0.0) as client:
        arena = PromptArena(
            client,
            prompts=["plain", "concise"],
            questions=[TEST_QUESTIONS[0]],
            max_tokens=48,
            judge_max_tokens=96,
        )
        result = await arena.run()
    assert [r.error for r in result.responses] == [None, None]
    assert all(r.text and r.ttft_s for r in result.responses)
    [matchup] = result.matchups
    assert len(matchup.verdicts) == 2  # both answer orders were judged
    assert matchup.outcome in ("plain", "concise", "tie", "unparseable")
    assert SELF_JUDGE_WARNING in result.warnings
    md_path, json_path = write_arena_report(result, tmp_path, "prompts")
    assert "## Leaderboard" in md_path.read_text()
    assert json.loads(json_path.read_text())["kind"] == "prompts"


async def test_slots_and_sampling_seed(real_server: ServerRecord) -> None:
    """llama.cpp says its 4 slots in ``/props``; it takes a temperature and a seed."""
    assert await server_slots(real_server) == 4
    async with ModelClient(
        real_server, real_server.models[0], temperature=0.0, seed=42, max_tokens=8
    ) as c:
        first = await c.chat("Name a colour.")
        again = await c.chat("Name a colour.")
        assert not c.seed_refused
    assert first == again
