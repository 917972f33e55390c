"""Token lengths: the MEAN[:STDDEV[:MIN:MAX]] form, reproducible draws, the context check and
what a run got against what it asked for."""

from __future__ import annotations

import re
import statistics

import pytest

from pytest_llmserver.stress import TokenLengths, WorkloadError, summarize_records
from pytest_llmserver.stress.lengths import check_context, coerce_lengths, length_notes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256", TokenLengths(256)),
        (" 256:32 ", TokenLengths(256, 32.0)),
        ("256:12.5:200:300", TokenLengths(256, 12.5, 200, 300)),
        (64, TokenLengths(64)),
    ],
)
def test_the_forms_parse(text: str | int, expected: TokenLengths) -> None:
    assert TokenLengths.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "a token length must be >= 1, got 0"),
        ("-5", "a token length must be >= 1, got -5"),
        ("abc", "expected whole numbers of tokens in MEAN[:STDDEV[:MIN:MAX]], got 'abc'"),
        ("256:3:100", "expected MEAN[:STDDEV[:MIN:MAX]] in tokens, got '256:3:100'"),
        ("256:", "expected MEAN[:STDDEV[:MIN:MAX]] in tokens, got '256:'"),
        ("256:-1", "the standard deviation must be finite and >= 0, got -1.0"),
        ("256:inf", "the standard deviation must be finite and >= 0, got inf"),
        ("256:3:0:300", "a token length must be >= 1, got MIN=0"),
        ("256:3:300:400", "MIN <= MEAN <= MAX does not hold: 300 <= 256 <= 400"),
    ],
)
def test_bad_forms_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        TokenLengths.parse(text)


def test_text_round_trips() -> None:
    for text in ("256", "256:32", "256:12.5:200:300"):
        assert TokenLengths.parse(TokenLengths.parse(text).text()) == TokenLengths.parse(text)
    assert str(TokenLengths(256, 32)) == "256:32"


def test_draws_are_reproducible_bounded_and_centred() -> None:
    lengths = TokenLengths(256, 32)
    draws = [lengths.draw("seed", i, "input") for i in range(4000)]
    assert draws == [lengths.draw("seed", i, "input") for i in range(4000)]
    assert draws != [lengths.draw("other", i, "input") for i in range(4000)]
    assert min(draws) >= 256 - 96
    assert max(draws) <= 256 + 96
    assert statistics.fmean(draws) == pytest.approx(256, abs=2)
    assert statistics.stdev(draws) == pytest.approx(32, rel=0.08)
    assert {TokenLengths(256).draw("seed", i, "input") for i in range(50)} == {256}


def test_min_max_bound_the_draws() -> None:
    lengths = TokenLengths(100, 80, 90, 120)
    draws = {lengths.draw(0, i, "output") for i in range(500)}
    assert min(draws) == 90
    assert max(draws) == 120
    assert TokenLengths(2, 10).low == 1  # never below one token


def test_coerce_names_the_direction() -> None:
    assert coerce_lengths("64", "output tokens") == TokenLengths(64)
    assert coerce_lengths(None, "output tokens") is None
    with pytest.raises(WorkloadError, match=r"^output tokens: a token length must be >= 1, got 0$"):
        coerce_lengths(0, "output tokens")


def test_the_context_check_names_the_server_limit() -> None:
    check_context(TokenLengths(2000), TokenLengths(48), 2048)
    check_context(TokenLengths(90000), None, None)  # unknown limit: nothing to check
    with pytest.raises(WorkloadError) as info:
        check_context(TokenLengths(2000, 10, 1990, 2010), TokenLengths(64), 2048)
    assert str(info.value) == (
        "requested token lengths (input up to 2010 + output up to 64 = 2074 tokens) exceed "
        "the server's context of 2048 tokens per request"
    )


def record(
    asked_in: int, got_in: int, asked_out: int, got_out: int, **extra: object
) -> dict[str, object]:
    return {
        "index": 0,
        "ok": True,
        "warmup": False,
        "requested_input_tokens": asked_in,
        "prompt_tokens": got_in,
        "requested_output_tokens": asked_out,
        "output_tokens": got_out,
        **extra,
    }


def test_the_summary_compares_requested_and_actual() -> None:
    records = [
        record(256, 256, 64, 64),
        record(240, 241, 64, 20),
        record(270, 270, 64, 64),
        record(999, 1, 999, 1, warmup=True),  # warm-up: left out
        record(999, 1, 999, 1, ok=False),  # failed: left out
    ]
    lengths = summarize_records(records).lengths
    assert lengths["input"].requests == 3
    assert lengths["input"].off == 0
    assert lengths["input"].requested_mean == pytest.approx(766 / 3)
    assert lengths["output"].off == 1
    assert lengths["output"].actual_min == 20
    assert lengths["output"].worst_relative == pytest.approx(44 / 64)
    notes = length_notes(lengths, "uncontrolled: num_predict caps the reply")
    assert notes == [
        "warning: 1 of 3 requests got output lengths more than 5% off the requested ones "
        "(mean 49.3 actual vs 64.0 requested, worst 69% off) (output length control on this "
        "server: uncontrolled: num_predict caps the reply)"
    ]
    assert summarize_records(records).to_dict()["lengths"]["output"]["off"] == 1


def test_runs_without_lengths_have_none() -> None:
    assert summarize_records([{"index": 0, "ok": True, "prompt_tokens": 5}]).lengths == {}
