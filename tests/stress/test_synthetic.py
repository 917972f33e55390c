"""Synthetic prompts of an exact length, their calibration, the output-length controls, and
runs of requested lengths on the simulator (both protocols)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.sim import SimConfig, SimThread, TimingModel
from pytest_llmserver.sim.persona import CONTEXT_LENGTH
from pytest_llmserver.sim.policy import DefaultPolicy
from pytest_llmserver.stress import StressTester, TestStats, WorkloadError
from pytest_llmserver.stress.synthetic import (
    INSTRUCTION,
    LEAD,
    SALT_WORDS,
    VOCABULARY,
    Calibration,
    calibrate,
    no_prompt_cache,
    output_control,
    synthetic_text,
    tokenizer_counter,
)


def words_of(text: str) -> list[str]:
    assert text.startswith(LEAD + " ")
    assert text.endswith(INSTRUCTION)
    return text[len(LEAD) + 1 : -len(INSTRUCTION)].split(" ")


def test_a_synthetic_prompt_has_its_words_and_its_own_salt() -> None:
    a, b = synthetic_text(50, "s", 1), synthetic_text(50, "s", 2)
    assert len(words_of(a)) == 50
    assert set(words_of(a)) <= set(VOCABULARY)
    assert words_of(a)[:SALT_WORDS] != words_of(b)[:SALT_WORDS]
    assert a == synthetic_text(50, "s", 1)
    same_body = [words_of(synthetic_text(50, "s", i, "one")) for i in (1, 2)]
    assert same_body[0][SALT_WORDS:] == same_body[1][SALT_WORDS:]
    assert same_body[0][:SALT_WORDS] != same_body[1][:SALT_WORDS]


def test_a_shared_prefix_comes_before_the_salt() -> None:
    a, b = (words_of(synthetic_text(40, "s", i, shared=10)) for i in (1, 2))
    assert a[:10] == b[:10]
    assert a[10 : 10 + SALT_WORDS] != b[10 : 10 + SALT_WORDS]
    assert len(a) == 40


def counter(overhead: int, per_word: float, calls: list[int]) -> Any:
    async def count(messages: list[dict[str, Any]]) -> int:
        words = len(words_of(messages[-1]["content"]))
        calls.append(words)
        return overhead + round(words * per_word)

    return count


def as_messages(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def test_calibration_finds_the_template_and_the_word_cost() -> None:
    calls: list[int] = []
    found = await calibrate(counter(23, 1.0, calls), as_messages, 256, "seed", "tokenize")
    assert found == Calibration(23.0, 1.0, "tokenize")
    assert found.words_for(256) == 233
    assert len(calls) == 3
    assert calls[-1] == 233


async def test_calibration_with_two_tokens_a_word() -> None:
    found = await calibrate(counter(10, 2.0, []), as_messages, 110, "seed", "usage")
    assert found.words_for(110) == 50
    assert found.minimum_tokens == 12


async def test_a_length_below_the_template_is_refused() -> None:
    found = Calibration(23.0, 1.0, "usage")
    with pytest.raises(WorkloadError) as info:
        found.words_for(20)
    assert str(info.value) == (
        "an input length of 20 tokens is below the 24 tokens the shortest prompt takes with "
        "this server's chat template"
    )


async def test_a_counter_that_does_not_grow_is_an_error() -> None:
    async def flat(messages: list[dict[str, Any]]) -> int:
        return 7

    with pytest.raises(WorkloadError, match="cannot calibrate prompt lengths: 16 and 144 words"):
        await calibrate(flat, as_messages, 256, "seed", "usage")


@pytest.mark.parametrize(
    ("kind", "api", "fixed", "fields"),
    [
        ("llamacpp", "openai", True, {"ignore_eos": True}),
        ("sglang", "openai", True, {"ignore_eos": True}),
        ("vllm", "openai", True, {"ignore_eos": True, "min_tokens": 64}),
        ("ollama", "ollama", False, {}),
        ("openai", "openai", False, {}),
    ],
)
def test_output_control_by_server(kind: str, api: str, fixed: bool, fields: dict[str, Any]) -> None:
    control = output_control(ServerRecord("http://127.0.0.1:9", type=api, kind=kind))  # type: ignore[arg-type]
    assert control.fixed is fixed
    assert control.fields(64) == fields
    if api == "ollama":
        assert "num_predict" in control.label


def test_only_llamacpp_is_told_not_to_use_its_cache() -> None:
    assert no_prompt_cache(ServerRecord("http://127.0.0.1:9", kind="llamacpp")) == {
        "cache_prompt": False
    }
    assert no_prompt_cache(ServerRecord("http://127.0.0.1:9", kind="vllm")) == {}


async def test_the_tokenizer_routes() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        if request.url.path == "/apply-template":
            return httpx.Response(200, json={"prompt": "<s>" + body["messages"][0]["content"]})
        if request.url.path == "/tokenize" and "content" in body:
            return httpx.Response(200, json={"tokens": list(range(len(body["content"].split())))})
        return httpx.Response(200, json={"count": 42, "max_model_len": 4096})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        llamacpp = ServerRecord("http://127.0.0.1:9", kind="llamacpp")
        count = await tokenizer_counter(llamacpp, "m", http)
        assert count is not None
        assert await count(as_messages("a b c")) == 3
        assert seen[1][1] == {"content": "<s>a b c", "add_special": True, "parse_special": True}
        vllm = await tokenizer_counter(ServerRecord("http://127.0.0.1:9", kind="vllm"), "m", http)
        assert vllm is not None
        assert await vllm(as_messages("x")) == 42
        assert seen[-1][1]["add_generation_prompt"] is True
        assert await tokenizer_counter(ServerRecord("http://127.0.0.1:9"), "m", http) is None


@pytest.fixture(scope="module")
def long_answers() -> Iterator[str]:
    """A simulator whose answers are longer than the requested output lengths."""
    timing = TimingModel(ttft_s=0.001, per_token_s=0.0001)
    config = SimConfig(timing=timing, policy=DefaultPolicy(answer_tokens=200))
    with SimThread(config) as sim:
        yield sim.url


@pytest.mark.parametrize("api", ["openai", "ollama"])
async def test_every_record_gets_the_requested_lengths(
    long_answers: str, api: str, tmp_path: Path
) -> None:
    server = {"url": long_answers, "type": api}
    tester = StressTester(
        server, "sim-small", out_dir=tmp_path, input_tokens=256, output_tokens="64"
    )
    stats = await tester.run_throughput_test(4, 16)
    assert stats.summary.ok == 16
    for result in tester.results:
        assert result.metrics.prompt_tokens == 256
        assert result.metrics.output_tokens == 64
    records = [json.loads(line) for line in stats.records_path.read_text().splitlines()]
    measured = [r for r in records if not r["warmup"]]
    assert {(r["requested_input_tokens"], r["requested_output_tokens"]) for r in measured} == {
        (256, 64)
    }
    calibration = [r for r in records if r["warmup"] and "requested_input_tokens" not in r]
    assert [r["output_tokens"] for r in calibration] == [1, 1, 1]  # three one-token requests
    assert len(records) == 3 + 1 + 16  # calibration, warm-up, measured
    assert stats.params["input_tokens"] == "256"
    assert stats.params["prompt_calibration"]["method"] == "usage"
    assert stats.params["output_control"].startswith("uncontrolled")
    assert stats.summary.lengths["input"].off == stats.summary.lengths["output"].off == 0
    assert not any(note.startswith("warning") for note in stats.notes)


async def test_spread_lengths_and_an_uncontrolled_short_reply_warn(
    long_answers: str, tmp_path: Path
) -> None:
    tester = StressTester(
        {"url": long_answers},
        "sim-small",
        out_dir=tmp_path,
        input_tokens="300:40:200:400",
        output_tokens="150:60:100:300",
    )
    stats = await tester.run_throughput_test(4, 24)
    pairs = [(r.metrics.prompt_tokens, r.metrics.output_tokens) for r in tester.results]
    assert len({p for p, _ in pairs}) > 5  # spread
    assert all(200 <= (p or 0) <= 400 for p, _ in pairs)
    assert stats.summary.lengths["input"].off == 0
    assert stats.summary.lengths["output"].off > 0  # asked for more than the 200-token answers
    assert any(n.startswith("warning: ") and "output lengths" in n for n in stats.notes)


async def test_input_lengths_and_a_dataset_do_not_mix(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="cannot be combined with a dataset"):
        StressTester({"url": "http://127.0.0.1:9"}, "m", input_tokens=64, dataset="bundled")


@pytest.fixture(scope="module")
def llamacpp_sim() -> Iterator[str]:
    timing = TimingModel(ttft_s=0.001, per_token_s=0.0001)
    config = SimConfig(timing=timing, policy=DefaultPolicy(answer_tokens=200), persona="llamacpp")
    with SimThread(config) as sim:
        yield sim.url


async def test_lengths_beyond_the_context_name_the_server_limit(
    llamacpp_sim: str, tmp_path: Path
) -> None:
    tester = StressTester(
        {"url": llamacpp_sim},
        "sim-small",
        out_dir=tmp_path,
        input_tokens=CONTEXT_LENGTH,
        output_tokens=64,
    )
    with pytest.raises(WorkloadError) as info:
        await tester.run_throughput_test(1, 1)
    assert str(info.value) == (
        f"requested token lengths (input up to {CONTEXT_LENGTH} + output up to 64 = "
        f"{CONTEXT_LENGTH + 64} tokens) exceed the server's context of {CONTEXT_LENGTH} tokens "
        "per request"
    )


async def test_every_mode_sends_the_requested_lengths(long_answers: str, tmp_path: Path) -> None:
    tester = StressTester(
        {"url": long_answers}, "sim-small", out_dir=tmp_path, input_tokens=128, output_tokens=32
    )
    runs: dict[str, Callable[[], Awaitable[TestStats]]] = {
        "sustained": lambda: tester.run_sustained_load_test(rpm=1200, duration=0.5),
        "consistency": lambda: tester.run_consistency_test(4),
        "realistic_user": lambda: tester.run_realistic_user_test(
            20, "short", 0.5, think_median_s=0.01, max_sessions=4
        ),
    }
    for mode, run in runs.items():
        stats = await run()
        results = tester.results
        assert results, mode
        fresh = [r for r in results if not r.turn]
        assert {r.metrics.prompt_tokens for r in fresh} == {128}, mode
        assert {r.metrics.output_tokens for r in results} == {32}, mode
        assert stats.summary.lengths["output"].requests == len(results), mode
    assert any(r.turn for r in results)  # later turns carry their history: longer prompts


@pytest.mark.usefixtures("llm_pytester")
def test_the_options_reach_the_records_and_the_report(pytester: pytest.Pytester) -> None:
    logs = pytester.path / "logs"
    result = pytester.runpytest_inprocess(
        "--llm-server=sim",
        "-m",
        "throughput",
        "--llm-sweep=2",
        "--llm-total=4",
        "--llm-input-tokens=128",
        "--llm-output-tokens=16",
        f"--llm-logs={logs}",
    )
    result.assert_outcomes(passed=1)
    data = json.loads((logs / "latest" / "stress-throughput-c2-n4.json").read_text())
    assert data["params"]["input_tokens"] == "128"
    assert data["params"]["output_tokens"] == "16"
    lengths = data["summary"]["lengths"]
    assert lengths["input"]["actual_mean"] == lengths["input"]["requested_mean"] == 128
    assert lengths["output"]["actual_mean"] == 16
    report = (logs / "latest" / "stress-throughput-c2-n4.md").read_text()
    assert "| input tokens | requested 128.0 (128..128), actual 128.0 (128..128);" in report


@pytest.mark.usefixtures("llm_pytester")
@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--llm-input-tokens=0"], "--llm-input-tokens: a token length must be >= 1, got 0"),
        (
            ["--llm-output-tokens=64:x"],
            "--llm-output-tokens: expected whole numbers of tokens in MEAN[:STDDEV[:MIN:MAX]], "
            "got '64:x'",
        ),
    ],
)
def test_bad_lengths_are_one_line_usage_errors(
    pytester: pytest.Pytester, args: list[str], line: str
) -> None:
    result = pytester.runpytest_inprocess("--llm-server=sim", "-m", "throughput", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert line in result.stderr.str()


def burst_of_two(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """One built-in throughput test of 2 requests against the simulator, with ``args``."""
    burst = ("-m", "throughput", "--llm-sweep=1", "--llm-total=2")
    return pytester.runpytest_inprocess("--llm-server=sim", *burst, *args)


@pytest.mark.usefixtures("llm_pytester")
def test_lengths_with_a_dataset_fail_in_one_line(pytester: pytest.Pytester) -> None:
    result = burst_of_two(pytester, "--llm-input-tokens=64", "--llm-dataset=bundled")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*workload: input token lengths build their own prompts*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.usefixtures("llm_pytester")
def test_lengths_off_are_a_warning_on_the_terminal(pytester: pytest.Pytester) -> None:
    """The simulator's 32-token answers cannot fill 64-token replies on the Ollama API."""
    result = burst_of_two(pytester, "--llm-output-tokens=64")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "  warning: 2 of 2 requests got output lengths more than 5% off the requested ones *"
            "(output length control on this server: uncontrolled: num_predict caps the reply*"
        ]
    )
