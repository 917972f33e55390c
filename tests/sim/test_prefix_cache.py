"""The simulator's prefix cache: whole blocks of a common prefix with a recent prompt count as
cached, are not prefilled again, and are reported as llama.cpp and OpenAI servers report them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pytest_llmserver.sim import SimConfig, SimServer
from pytest_llmserver.sim.policy import DefaultPolicy, SimRequest
from pytest_llmserver.sim.prefix_cache import CACHE_BLOCK_TOKENS, PrefixCache, common_prefix
from pytest_llmserver.sim.tokens import count_prompt_tokens, prompt_tokens_of
from tests.sim.helpers import FAST

SHARED = " ".join(f"word{i}" for i in range(60))


def test_common_prefix() -> None:
    assert common_prefix("abcd", "abxd") == 2
    assert common_prefix("ab", "abc") == 2
    assert common_prefix("", "abc") == 0


def test_whole_blocks_of_the_longest_common_prefix_are_cached() -> None:
    cache = PrefixCache(prompts=4, block_tokens=4)
    assert cache.admit(list("abcdefghij")) == 0  # nothing kept yet
    assert cache.admit(list("abcdefgXYZ")) == 4  # 7 in common: one whole block
    assert cache.admit(list("abcdefghiQ")) == 8  # 9 in common with the first
    assert cache.admit(list("Zbcdefghij")) == 0


def test_the_last_token_is_always_computed() -> None:
    cache = PrefixCache(prompts=4, block_tokens=4)
    cache.admit(list("abcdefgh"))
    assert cache.admit(list("abcdefgh")) == 4  # 8 in common, but the last one is computed


def test_the_least_recently_used_prompt_is_dropped() -> None:
    cache = PrefixCache(prompts=2, block_tokens=1)
    cache.admit(list("aaaa"))
    cache.admit(list("bbbb"))
    cache.admit(list("aaaa"))  # "a" used again: "b" is now the oldest
    cache.admit(list("cccc"))
    assert cache.admit(list("aaax")) == 3
    assert cache.admit(list("bbbx")) == 0


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="cache sizes must be >= 1, got 0 and 16"):
        PrefixCache(prompts=0)


def test_the_token_layout_matches_the_count() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hello  there"}]},
        {"role": "assistant", "content": None},
    ]
    tools = [{"type": "function", "function": {"name": "f"}}]
    for args in ((messages, tools), (messages, []), ([], [])):
        assert len(prompt_tokens_of(*args)) == count_prompt_tokens(*args)


def test_the_default_policy_ignores_salts() -> None:
    def ask(text: str) -> str:
        request = SimRequest(
            "openai", "sim-small", [{"role": "user", "content": text}], [], 8, None, False, {}
        )
        return DefaultPolicy().respond(request).content

    assert ask("[r0a1b2c] Name a colour.") == ask("[rffee00] Name a colour.")
    assert ask("prefix text\n\n[r0a1b2c] Name a colour.") == ask("prefix text\n\nName a colour.")
    assert ask("Name a colour.") != ask("Name a flower.")


def body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "sim-small", "messages": [{"role": "user", "content": text}], **extra}


async def test_openai_route_reports_cached_tokens_in_usage_and_timings() -> None:
    async with (
        SimServer(SimConfig(timing=FAST, persona="llamacpp")) as sim,
        httpx.AsyncClient(base_url=sim.url, timeout=10.0) as http,
    ):
        first = (await http.post("/v1/chat/completions", json=body(f"{SHARED} one"))).json()
        second = (await http.post("/v1/chat/completions", json=body(f"{SHARED} two"))).json()
        other = (await http.post("/v1/chat/completions", json=body(f"x {SHARED}"))).json()
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert first["timings"]["cache_n"] == 0
    # 3 marker tokens + 60 shared words before the texts differ: 3 whole blocks of 16
    cached = 3 * CACHE_BLOCK_TOKENS
    assert second["usage"]["prompt_tokens_details"]["cached_tokens"] == cached
    assert second["usage"]["prompt_tokens"] == 65
    assert second["timings"]["cache_n"] == cached
    assert second["timings"]["prompt_n"] == 65 - cached
    assert other["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


async def test_cached_tokens_are_not_prefilled_again() -> None:
    slow_prefill = FAST.__class__(ttft_s=0.0, per_token_s=0.001, prefill_s_per_token=0.002)
    async with (
        SimServer(SimConfig(timing=slow_prefill)) as sim,
        httpx.AsyncClient(base_url=sim.url, timeout=10.0) as http,
    ):
        await http.post("/v1/chat/completions", json=body(f"{SHARED} one", max_tokens=1))
        again = await http.post("/v1/chat/completions", json=body(f"{SHARED} two", max_tokens=1))
        fresh = await http.post("/v1/chat/completions", json=body(f"y {SHARED}", max_tokens=1))
    # the server's own prefill times: 17 against 65 tokens at 2 ms each
    assert again.json()["timings"]["prompt_ms"] < fresh.json()["timings"]["prompt_ms"] - 50
    assert fresh.json()["timings"]["prompt_ms"] >= 65 * 2


async def test_each_model_has_its_own_cache() -> None:
    async with (
        SimServer(SimConfig(timing=FAST, models=("a", "b"))) as sim,
        httpx.AsyncClient(base_url=sim.url, timeout=10.0) as http,
    ):
        for model in ("a", "b"):
            payload = {**body(f"{SHARED} one"), "model": model}
            reply = (await http.post("/v1/chat/completions", json=payload)).json()
            assert reply["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


async def test_ollama_counts_the_whole_prompt(client: httpx.AsyncClient) -> None:
    for word in ("one", "two"):
        reply = await client.post("/api/chat", json={**body(f"{SHARED} {word}"), "stream": False})
        assert reply.json()["prompt_eval_count"] == 65
