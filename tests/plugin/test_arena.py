"""The arenas through pytest against the simulator: reports, judges, options, transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.report import ChatHistoryManager

ARENA = ("--llm-server=sim", "-m", "arena", "-p", "no:cacheprovider")


def _run_dir(pytester: pytest.Pytester) -> Path:
    return (pytester.path / "logs" / "latest").resolve()


def _arenas(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    doc = json.loads((_run_dir(pytester) / "results.json").read_text())
    return {arena["kind"]: arena for arena in doc["arenas"]}


def test_both_arenas_write_reports_and_the_summary(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.runpytest(*ARENA).assert_outcomes(passed=2)
    run = _run_dir(llm_pytester)
    for kind in ("prompts", "models"):
        assert (run / f"arena-{kind}.md").is_file()
        doc = json.loads((run / f"arena-{kind}.json").read_text())
        assert (doc["schema"], doc["kind"], doc["judge_model"]) == (
            "pytest-llmserver/arena",
            kind,
            "judge-fair",
        )
    arenas = _arenas(llm_pytester)
    assert arenas["prompts"]["contestants"] == ["plain", "chain_of_thought", "concise"]
    assert arenas["prompts"]["matchups"] == 3 * 3  # 3 pairs x 3 questions
    assert arenas["models"]["contestants"] == [
        "sim-small",
        "sim-reasoner",
        "oracle",
        "bad-no-tools",
    ]
    summary = (run / "summary.md").read_text()
    assert "## Arena: prompts (judge judge-fair)" in summary
    assert "## Arena: models (judge judge-fair)" in summary


def test_a_judge_that_always_says_a_only_produces_ties(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.runpytest(*ARENA, "--llm-judge-model=judge-first").assert_outcomes(passed=2)
    for arena in _arenas(llm_pytester).values():
        rows = arena["leaderboard"]
        assert all(row["wins"] == row["losses"] == 0 for row in rows)
        assert all(row["ties"] > 0 for row in rows)
    report = (_run_dir(llm_pytester) / "arena-prompts.md").read_text()
    assert "## Position-bias ties (9)" in report


def test_a_judge_without_verdicts_fails_the_arena(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest(*ARENA, "-k", "arena_prompts", "--llm-judge-model=judge-prose")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*judge judge-prose gave no readable verdict in 9 matchups*"])
    [row] = [
        r for r in _arenas(llm_pytester)["prompts"]["leaderboard"] if r["contestant"] == "plain"
    ]
    assert row["unparseable"] == 6


def test_self_judging_is_warned(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.runpytest(
        *ARENA, "-k", "arena_prompts", "--llm-model=sim-small", "--llm-judge-model=sim-small"
    )
    warnings = _arenas(llm_pytester)["prompts"]["warnings"]
    assert "the judge is the model under test; self-judging is biased" in warnings


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--llm-arena-prompts=plain,nope", "prompt arena: *nope*"),
        ("--llm-arena-questions=99", "prompt arena: --llm-arena-questions: 99 is not in 1..12"),
        (
            "--llm-arena-questions=math-01,zzz",
            "prompt arena: --llm-arena-questions: unknown id(s) zzz*",
        ),
    ],
)
def test_bad_arena_options_fail_with_their_name(
    llm_pytester: pytest.Pytester, option: str, message: str
) -> None:
    result = llm_pytester.runpytest(*ARENA, "-k", "arena_prompts", option)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{message}"])


def test_model_arena_with_named_models_and_urls(llm_pytester: pytest.Pytester) -> None:
    from pytest_llmserver.sim import SimConfig, SimThread

    with SimThread(SimConfig(host="127.0.0.3", models=("far-model",))) as other:
        result = llm_pytester.runpytest(
            *ARENA, "-k", "arena_models", f"--llm-arena-models=sim-small,far-model@{other.url}"
        )
    result.assert_outcomes(passed=1)
    arena = _arenas(llm_pytester)["models"]
    assert arena["contestants"] == ["sim-small", f"far-model@{other.url}"]
    assert sorted(arena["labels"].values()) == ["Model 1", "Model 2"]


def test_transcripts_are_saved_when_asked(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.runpytest(
        "--llm-server=sim",
        "-m",
        "arena or (toolbench and quick)",
        "-k",
        "arena_prompts or test_toolbench",
        "--llm-model=oracle",
        "--llm-arena-questions=1",
        "--llm-save-transcripts",
        "-p",
        "no:cacheprovider",
    ).assert_outcomes(passed=8)
    history = ChatHistoryManager(_run_dir(llm_pytester) / "transcripts")
    saved = history.list_all()
    assert len([t for t in saved if "toolbench" in t.tags]) == 7
    assert len([t for t in saved if "arena-prompts" in t.tags]) == 3 + 3 * 2  # answers + judgings
    [weather] = history.search("oslo", tag="toolbench")
    assert "Q01_weather_oslo" in weather.tags
    assert history.load(weather.filename)["messages"][0]["role"] in ("system", "user")
