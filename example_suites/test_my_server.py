"""Checks a user writes with the plugin's fixtures. Run against any server:

pytest example_suites --llm-server=local          # llama.cpp + SmolLM2, started for you
pytest example_suites --llm-server=localhost:11434  # a running Ollama
"""

from __future__ import annotations

import pytest

from pytest_llmserver import ModelClient


@pytest.mark.llm
async def test_answers_and_streams(llm_client: ModelClient) -> None:
    pieces = [p async for p in llm_client.chat_stream("Name a colour.", max_tokens=32)]
    m = llm_client.last_metrics
    assert m is not None
    assert m.ttft_s is not None
    assert m.output_tokens > 0
    print(
        f"\n{llm_client.model}: {''.join(pieces)!r}\n"
        f"  ttft {m.ttft_s * 1e3:.1f} ms, e2e {m.e2e_s or 0:.3f} s, "
        f"{m.output_tokens} tokens ({m.output_tokens_source}), "
        f"decode {m.decode_tps or 0:.1f} tok/s client / {m.server_decode_tps or 0:.1f} server"
    )


@pytest.mark.llm
async def test_first_token_is_fast_enough(llm_client: ModelClient) -> None:
    await llm_client.chat("Reply with one word: ready?", max_tokens=8)
    m = llm_client.last_metrics
    assert m is not None
    assert m.ttft_s is not None
    assert m.ttft_s < 2.0, f"TTFT {m.ttft_s:.3f} s is over the 2 s budget"
