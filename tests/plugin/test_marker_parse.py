"""``plugin.marker`` without pytest runs: each marker argument's check and message, defaults
from the settings as the built-in tests take them, the overrides and the mode call."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.plugin.marker import MODES, WORKLOAD, MarkerError, parse_marker
from pytest_llmserver.plugin.stress import checked_overrides
from pytest_llmserver.settings import Settings
from pytest_llmserver.stress import BUNDLED_DATASET, ModeCall


def _settings(**stress: Any) -> Settings:
    s = Settings.defaults()
    return replace(s, run=replace(s.run, concurrency=3), stress=replace(s.stress, **stress))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs mode=, one of throughput, sustained, consistency, realistic_user, "),
        ({"mode": 3}, "mode=3 is not one of throughput, "),
        ({"mode": "throughput", "concurrency": True}, "concurrency=True is not a whole number "),
        ({"mode": "throughput", "total": 2.0}, "total=2.0 is not a whole number >= 1"),
        ({"mode": "consistency", "total": 1}, "total=1 is not a whole number >= 2"),
        ({"mode": "consistency", "prompt": " "}, "prompt=' ' is not a non-empty string"),
        ({"mode": "sustained", "rpm": -1}, "rpm=-1 is not a positive number"),
        ({"mode": "sustained", "duration_s": "10"}, "duration_s='10' is not a positive number"),
        ({"mode": "sustained", "burstiness": float("inf")}, "burstiness=inf is not a positive"),
        ({"mode": "sustained", "arrival": "x"}, "arrival='x' is not one of constant, poisson, "),
        ({"mode": "realistic_user", "session_profile": "y"}, "session_profile='y' is not one of "),
        ({"mode": "realistic_user", "arrival_rate": 0}, "arrival_rate=0 is not a positive number"),
        ({"mode": "token_stress", "sizes": "256"}, "sizes='256' is not a non-empty list of "),
        ({"mode": "token_stress", "sizes": [256, 0]}, "sizes=[256, 0] is not a non-empty list "),
        ({"mode": "token_stress", "sizes": []}, "sizes=[] is not a non-empty list of whole "),
        ({"mode": "tool_bench", "tier": "easy"}, "tier='easy' is not one of all, quick, "),
        ({"mode": "tool_bench", "concurrency": 0}, "concurrency=0 is not a whole number >= 1"),
        ({"mode": "throughput", "max_tokens": 0}, "max_tokens=0 is not a whole number >= 1"),
        ({"mode": "throughput", "temperature": -1}, "temperature=-1 is not a number >= 0 or None"),
        ({"mode": "throughput", "top_p": 2}, "top_p=2 is not a number in (0, 1] or None"),
        ({"mode": "throughput", "seed": -1}, "seed=-1 is not a whole number >= 0"),
        ({"mode": "throughput", "warmup": "1"}, "warmup='1' is not a whole number >= 0"),
        ({"mode": "throughput", "shared_prefix_tokens": -5}, "shared_prefix_tokens=-5 is not "),
        ({"mode": "throughput", "slos": {"ttft_p95": 1}}, "slos={'ttft_p95': 1} is not a string "),
        ({"mode": "throughput", "slos": "fast"}, "slos='fast': bad SLO entry 1 'fast': "),
        (
            {"mode": "throughput", "input_tokens": 0},
            "input_tokens=0 is not MEAN[:STDDEV[:MIN:MAX]] in tokens (a token length must be >= 1",
        ),
        (
            {"mode": "throughput", "output_tokens": "64:x"},
            "output_tokens='64:x' is not MEAN[:STDDEV[:MIN:MAX]] in tokens (expected whole",
        ),
        ({"mode": "throughput", "output_tokens": 6.5}, "output_tokens=6.5 is not MEAN[:STDDEV"),
        ({"mode": "throughput", "dataset": 3}, "dataset=3 is not a non-empty string"),
        ({"mode": "token_stress", "total": 4}, "mode='token_stress' takes no total= (it takes: "),
    ],
)
def test_each_bad_argument_is_one_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(MarkerError) as caught:
        parse_marker((), kwargs)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(MarkerError, match=r"^2 positional argument\(s\) given: it takes keyword"):
        parse_marker(("throughput", 4), {})


def test_an_unknown_argument_lists_what_that_mode_takes() -> None:
    with pytest.raises(MarkerError) as caught:
        parse_marker((), {"mode": "token_stress", "concurrency": 2})
    valid = ", ".join(["sizes", *WORKLOAD])
    assert str(caught.value) == f"mode='token_stress' takes no concurrency= (it takes: {valid})"


def test_a_missing_dataset_names_the_path_from_the_test_folder(tmp_path: Path) -> None:
    with pytest.raises(MarkerError) as caught:
        parse_marker((), {"mode": "throughput", "dataset": "none.jsonl"}, tmp_path)
    path = tmp_path / "none.jsonl"
    assert str(caught.value) == f"dataset='none.jsonl': dataset {path}: no such file"


def test_a_dataset_is_found_from_the_test_folder(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"prompt": "Name a colour."}\n')
    spec = parse_marker((), {"mode": "throughput", "dataset": "d.jsonl"}, tmp_path)
    assert spec.overrides == {"dataset": str(tmp_path / "d.jsonl")}
    bundled = parse_marker((), {"mode": "throughput", "dataset": "bundled"}, tmp_path)
    assert bundled.overrides == {"dataset": BUNDLED_DATASET}


def test_workload_arguments_become_overrides_as_the_run_takes_them() -> None:
    spec = parse_marker(
        (),
        {
            "mode": "throughput",
            "concurrency": 8,
            "input_tokens": "512:64",
            "output_tokens": 128,
            "slos": "ttft_p95:0.8",
            "temperature": None,
            "top_p": 1,
            "seed": 7,
            "max_tokens": 16,
        },
    )
    assert spec.given == {"concurrency": 8}
    assert spec.overrides == {
        "input_tokens": "512:64",  # checked, and passed on as text
        "output_tokens": "128",
        "slos": {"ttft_p95": 0.8},
        "temperature": None,
        "top_p": 1.0,
        "seed": 7,
        "max_tokens": 16,
    }


@pytest.mark.parametrize(
    ("kwargs", "method", "arguments"),
    [
        (
            {"mode": "throughput", "total": 64},
            "run_throughput_test",
            {"concurrency": 3, "total": 64},
        ),
        (
            {"mode": "sustained", "rpm": 60},
            "run_sustained_load_test",
            {"rpm": 60.0, "duration": 10.0, "arrival": "gamma", "burstiness": 1.0},
        ),
        ({"mode": "consistency"}, "run_consistency_test", {"n": 2, "prompt": "Hi."}),
        (
            {"mode": "realistic_user", "duration_s": 5},
            "run_realistic_user_test",
            {"arrival_rate": 0.5, "profile": "mixed", "duration": 5.0},
        ),
        ({"mode": "token_stress"}, "run_token_stress_test", {"sizes": [256, 1024]}),
        (
            {"mode": "tool_bench", "tier": "hard"},
            "run_tool_bench_test",
            {"tier": "hard", "concurrency": 3},
        ),
    ],
)
def test_unset_arguments_come_from_the_settings(
    kwargs: dict[str, Any], method: str, arguments: dict[str, Any]
) -> None:
    settings = _settings(total=1, arrival="gamma", prompt="Hi.")
    spec = parse_marker((), kwargs)
    call = ModeCall.capture(spec.call(settings))
    assert call is not None
    assert call.method == method
    assert call.kwargs == arguments


def test_the_six_modes() -> None:
    assert list(MODES) == [
        "throughput",
        "sustained",
        "consistency",
        "realistic_user",
        "token_stress",
        "tool_bench",
    ]


def test_the_run_id_is_the_test_name() -> None:
    spec = parse_marker((), {"mode": "throughput"})
    assert spec.run_id("test_burst") == "test_burst"
    assert spec.run_id("test_burst[c 4/n16]") == "test_burst-c-4-n16"
    assert spec.run_id("[]") == "throughput"


def test_overrides_must_name_an_option() -> None:
    options = {"max_tokens": 128, "slos": {}}
    assert checked_overrides(options, None) == {}
    assert checked_overrides(options, {"max_tokens": 8}) == {"max_tokens": 8}
    with pytest.raises(ValueError, match=r"^no stress option to override: rpm, sizes$"):
        checked_overrides(options, {"sizes": [1], "rpm": 3, "max_tokens": 8})
