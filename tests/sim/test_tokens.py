"""The tokenizer and the token clock, without a server."""

from __future__ import annotations

import random

from pytest_llmserver.sim import count_tokens, split_tokens
from pytest_llmserver.sim.generation import token_deadlines


def test_jitter_deadlines_are_seeded_and_bounded() -> None:
    def deadlines(seed: int) -> list[float]:
        return token_deadlines(10.0, 50, 0.1, 0.01, 0.003, random.Random(seed))

    first = deadlines(1)
    assert first == deadlines(1)
    assert first != deadlines(2)
    for i, deadline in enumerate(first):
        assert abs(deadline - (10.0 + 0.1 + i * 0.01)) <= 0.003
    never_early = token_deadlines(5.0, 20, 0.0, 0.0, 1.0, random.Random(0))
    assert min(never_early) == 5.0  # jitter never moves a token before the request ended


def test_tokenizer_is_lossless() -> None:
    text = "  Hello,  world!\n\tnext line  "
    tokens = split_tokens(text)
    assert "".join(tokens) == text
    assert tokens == ["  Hello,", "  world!", "\n\tnext", " line  "]
    assert count_tokens("") == 0
    assert count_tokens("one two three") == 3
