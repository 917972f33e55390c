"""Prefix caches on purpose, never by accident: salts, the shared prefix, cached-token counts
per run, the note of an unasked-for cache hit, and every mode's prompts salted."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.sim import SimConfig, SimThread, TimingModel
from pytest_llmserver.sim.policy import DefaultPolicy, SimReply, SimRequest
from pytest_llmserver.stress import StressTester, TestStats
from pytest_llmserver.stress.prompt_cache import (
    CACHE_NOTE_SHARE,
    PromptCache,
    PromptCacheCollector,
    cache_note,
    cache_row,
)
from pytest_llmserver.stress.report import render_markdown
from pytest_llmserver.stress.summary import summarize_records
from pytest_llmserver.stress.workload import salt, salted, shared_prefix

SALT = re.compile(r"\[r[0-9a-f]{6}\] ")


def test_salts_are_reproducible_and_unique() -> None:
    salts = {salt(7, index) for index in range(-5, 2000)}
    assert len(salts) == 2005
    assert all(re.fullmatch(r"\[r[0-9a-f]{6}\]", s) for s in salts)
    assert salt(7, 3) == salt(7, 3) != salt(8, 3)


def test_the_shared_prefix_comes_first_then_the_salt() -> None:
    prefix = shared_prefix(200)
    assert prefix == shared_prefix(200)
    assert len(prefix.split()) == 150  # 0.75 words a token
    assert shared_prefix(0) == ""
    assert salted("Hi.", 1, 2) == f"{salt(1, 2)} Hi."
    assert salted("Hi.", 1, 2, prefix) == f"{prefix}\n\n{salt(1, 2)} Hi."


def record(prompt: int, cached: int | None, **extra: Any) -> dict[str, Any]:
    base = {"ok": True, "warmup": False, "prompt_tokens": prompt, "cached_tokens": cached}
    return {**base, **extra}


def collect(*records: dict[str, Any]) -> PromptCache:
    collector = PromptCacheCollector()
    for one in records:
        collector.add(one)
    return collector.prompt_cache()


def test_counts_leave_out_warm_up_failed_and_later_turns_from_fresh() -> None:
    cache = collect(
        record(100, 10),
        record(100, 90, warmup=True),
        record(100, 90, ok=False),
        record(50, None, turn=0),
        record(200, 150, turn=2),
    )
    assert (cache.requests, cache.reporting) == (3, 2)
    assert (cache.prompt_tokens, cache.cached_tokens) == (350, 160)
    assert (cache.fresh_prompt_tokens, cache.fresh_cached_tokens) == (150, 10)
    assert cache.fresh_cached_share == pytest.approx(10 / 150)
    assert cache.to_dict()["cached_share"] == pytest.approx(160 / 350)


def test_no_share_when_no_server_reported_cached_tokens() -> None:
    cache = collect(record(100, None), record(80, None))
    assert cache.cached_share is None
    assert cache_note(cache, 0) is None
    assert cache_row(cache) == "not reported (180 prompt tokens)"


def test_cached_beyond_the_prompt_counts_as_the_prompt() -> None:
    assert collect(record(10, 40)).cached_tokens == 10


def test_the_note_needs_more_than_the_share_and_no_shared_prefix() -> None:
    at_limit = collect(record(100, round(100 * CACHE_NOTE_SHARE)))
    above = collect(record(100, 11))
    assert cache_note(at_limit, 0) is None
    assert cache_note(above, 200) is None
    assert cache_note(above, 0) == (
        "prefix cache: 11% of prompt tokens (11 of 100) came from the server's cache without "
        "--llm-shared-prefix; TTFT and prefill figures are flattered (prompts start with their "
        "own salt, so the reused part is a shared system prompt or the chat template's opening "
        "tokens)"
    )
    assert cache_row(above) == "11 of 100 prompt tokens (11.0%)"


def test_the_summary_carries_the_counts() -> None:
    summary = summarize_records([record(100, 40)])
    assert summary.prompt_cache.cached_tokens == 40
    assert summary.to_dict()["prompt_cache"]["cached_share"] == pytest.approx(0.4)


class Recording:
    """The default policy, keeping every request's messages."""

    def __init__(self) -> None:
        self.default = DefaultPolicy(answer_tokens=4)
        self.seen: list[list[dict[str, Any]]] = []

    def respond(self, request: SimRequest) -> SimReply:
        self.seen.append(request.messages)
        return self.default.respond(request)


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[str, Recording]]:
    policy = Recording()
    config = SimConfig(timing=TimingModel(ttft_s=0.002, per_token_s=0.0005), policy=policy)
    with SimThread(config) as sim:
        yield sim.url, policy


def make_tester(url: str, tmp_path: Path, **kwargs: Any) -> StressTester:
    return StressTester({"url": url}, "sim-small", max_tokens=4, out_dir=tmp_path, **kwargs)


def first_user_texts(seen: list[list[dict[str, Any]]]) -> list[str]:
    """The user message of each request that carries no earlier turn."""
    users = [[m["content"] for m in messages if m["role"] == "user"] for messages in seen]
    return [texts[0] for texts in users if len(texts) == 1]


async def test_every_mode_salts_its_prompts(
    recorded: tuple[str, Recording], tmp_path: Path
) -> None:
    url, policy = recorded
    t = make_tester(url, tmp_path)
    runs: dict[str, Callable[[], Awaitable[TestStats]]] = {
        "throughput": lambda: t.run_throughput_test(4, 12),
        "sustained": lambda: t.run_sustained_load_test(rpm=1200, duration=0.4),
        "consistency": lambda: t.run_consistency_test(5),
        "realistic_user": lambda: t.run_realistic_user_test(
            20, "short", 0.5, think_median_s=0.01, max_sessions=4
        ),
    }
    for mode, run in runs.items():
        policy.seen.clear()
        stats = await run()
        texts = first_user_texts(policy.seen)
        assert texts, mode
        assert all(SALT.match(text) for text in texts), mode
        assert len(set(texts)) == len(texts), mode
        assert stats.params["shared_prefix_tokens"] == 0
        assert stats.summary.prompt_cache.fresh_cached_tokens == 0, mode
    assert len(texts) < len(policy.seen)  # the sessions had later turns
    assert stats.summary.prompt_cache.cached_tokens > 0  # which reuse their own history


async def test_the_shared_prefix_goes_before_the_salt(
    recorded: tuple[str, Recording], tmp_path: Path
) -> None:
    url, policy = recorded
    policy.seen.clear()
    await make_tester(url, tmp_path, shared_prefix_tokens=40).run_throughput_test(2, 4)
    prefix = shared_prefix(40)
    for text in first_user_texts(policy.seen):
        assert text.startswith(prefix + "\n\n")
        assert SALT.match(text[len(prefix) + 2 :])


def test_a_negative_shared_prefix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shared prefix must be >= 0 tokens, got -1"):
        make_tester("http://127.0.0.1:9", tmp_path, shared_prefix_tokens=-1)


@pytest.fixture(scope="module")
def llamacpp_url() -> Iterator[str]:
    timing = TimingModel(ttft_s=0.002, per_token_s=0.0005)
    with SimThread(SimConfig(timing=timing, persona="llamacpp")) as sim:
        yield sim.url


async def test_a_salted_run_gets_nothing_from_the_cache(llamacpp_url: str, tmp_path: Path) -> None:
    stats = await make_tester(llamacpp_url, tmp_path).run_throughput_test(4, 16)
    cache = stats.summary.prompt_cache
    assert (cache.reporting, cache.cached_tokens) == (16, 0)
    assert "cached prompt tokens | 0 of" in render_markdown(stats)
    assert not any("prefix cache" in note for note in stats.notes)


async def test_a_shared_prefix_shows_cached_tokens(llamacpp_url: str, tmp_path: Path) -> None:
    stats = await make_tester(llamacpp_url, tmp_path, shared_prefix_tokens=200).run_throughput_test(
        4, 16
    )
    cache = stats.summary.prompt_cache
    assert cache.cached_share is not None
    assert cache.cached_share > 0.5
    assert stats.params["shared_prefix_tokens"] == 200
    text = render_markdown(stats)
    assert f"cached prompt tokens | {cache.cached_tokens} of {cache.prompt_tokens}" in text
    assert "| shared_prefix_tokens | 200 |" in text
    assert not any("prefix cache" in note for note in stats.notes)  # asked for


async def test_an_unasked_for_cache_hit_is_the_first_note(
    llamacpp_url: str, tmp_path: Path
) -> None:
    """A long system prompt is a prefix every request shares: the cache serves it."""
    system = " ".join(["Answer plainly and briefly, in full sentences."] * 12)
    stats = await make_tester(llamacpp_url, tmp_path, system_prompt=system).run_consistency_test(
        4, notes="my note"
    )
    assert stats.notes[0].startswith("prefix cache: ")
    assert stats.notes[1] == "my note"
    lines = render_markdown(stats).splitlines()
    assert lines[2] == f"**{stats.notes[0]}**"


@pytest.mark.usefixtures("llm_pytester")
def test_the_option_reaches_the_report(pytester: pytest.Pytester) -> None:
    logs = pytester.path / "logs"
    result = pytester.runpytest_inprocess(
        "--llm-server=sim",
        "--llm-api=openai",  # the Ollama API does not report cached tokens
        "-m",
        "throughput",
        "--llm-sweep=2",
        "--llm-total=4",
        "--llm-shared-prefix=200",
        f"--llm-logs={logs}",
    )
    result.assert_outcomes(passed=1)
    data = json.loads((logs / "latest" / "stress-throughput-c2-n4.json").read_text())
    assert data["params"]["shared_prefix_tokens"] == 200
    assert data["summary"]["prompt_cache"]["cached_tokens"] > 0
