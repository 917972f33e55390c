"""The judge prompt, the verdict parser, the both-orders rule and the built-in contestants."""

from __future__ import annotations

from collections import Counter

import pytest

from pytest_llmserver.arena import (
    SYSTEM_PROMPTS,
    TEST_QUESTIONS,
    JudgeResult,
    judge_messages,
    matchup_outcome,
    parse_verdict,
    split_judge_prompt,
)

# --- parse_verdict -----------------------------------------------------------------------------

VERDICT = '{"winner": "A", "score_a": 8, "score_b": 5, "reason": "more complete"}'


@pytest.mark.parametrize(
    ("text", "winner", "score_a", "score_b"),
    [
        (VERDICT, "A", 8.0, 5.0),
        (f"```json\n{VERDICT}\n```", "A", 8.0, 5.0),
        (f"```\n{VERDICT}\n```", "A", 8.0, 5.0),
        (f"Here is my verdict:\n{VERDICT}\nThanks for asking.", "A", 8.0, 5.0),
        (f"Intro text\n```json\n{VERDICT}\n```\nclosing words", "A", 8.0, 5.0),
        ('{"winner": "B", "score_a": 2, "score_b": 9, "reason": "uses {x: 1} and {}"}', "B", 2, 9),
        ('<think>{"winner": "B"} maybe?</think>' + VERDICT, "A", 8.0, 5.0),
        ('{"winner": "A", "score_a": 15, "score_b": -2}', "A", 10.0, 0.0),
        ('{"winner": "A", "score_a": "7", "score_b": " 4.5 "}', "A", 7.0, 4.5),
        ('{"Winner": "Answer B", "Score_A": 3, "SCORE_B": 6}', "B", 3.0, 6.0),
        ('{"winner": "a"}', "A", None, None),
        ('{"winner": "draw", "score_a": 5, "score_b": 5}', "tie", 5.0, 5.0),
        ('{"winner": "Tie"}', "tie", None, None),
        ('{"verdict": {"winner": "b", "score_a": 1, "score_b": 2}}', "B", 1.0, 2.0),
    ],
)
def test_parse_verdict_accepts(
    text: str, winner: str, score_a: float | None, score_b: float | None
) -> None:
    verdict, why = parse_verdict(text)
    assert why is None
    assert verdict is not None
    assert verdict["winner"] == winner
    assert verdict["score_a"] == score_a
    assert verdict["score_b"] == score_b


def test_parse_verdict_keeps_reason_with_nested_braces() -> None:
    verdict, _ = parse_verdict('noise {"winner": "A", "reason": "set {1, {2}} is fine"} tail')
    assert verdict is not None
    assert verdict["reason"] == "set {1, {2}} is fine"


@pytest.mark.parametrize(
    ("text", "why_part"),
    [
        ("Answer A is clearly better than Answer B.", "no JSON"),
        ('{"winner": "A", "score_a": 8', "broken JSON"),
        ('{"score_a": 8, "score_b": 3}', "no object has a 'winner'"),
        ('{"winner": "C"}', "unrecognised winner"),
        ('{"winner": "A"} on second thought {"winner": "B"}', "conflicting"),
        ('<think>{"winner": "A"}</think>', "empty reply"),
        ("", "empty reply"),
    ],
)
def test_parse_verdict_refuses(text: str, why_part: str) -> None:
    verdict, why = parse_verdict(text)
    assert verdict is None
    assert why is not None
    assert why_part in why


# --- judge prompt and outcome rule -------------------------------------------------------------


def test_judge_messages_are_blind_and_round_trip() -> None:
    messages = judge_messages("What is 2+2?", "four", "It is 4.")
    assert [m["role"] for m in messages] == ["system", "user"]
    text = "\n".join(m["content"] for m in messages)
    assert "Answer A" in text
    assert "Answer B" in text
    assert '"winner"' in text
    assert split_judge_prompt(messages[1]["content"]) == ("What is 2+2?", "four", "It is 4.")


def verdict(first: str, second: str, winner: str | None, error: str | None = None) -> JudgeResult:
    return JudgeResult("q", first, second, winner=winner, parsed=winner is not None, error=error)


@pytest.mark.parametrize(
    ("one", "two", "outcome"),
    [
        ("A", "B", "x"),  # x shown first and chosen, then shown second and chosen
        ("B", "A", "y"),
        ("A", "A", "tie"),  # follows the position
        ("B", "B", "tie"),
        ("tie", "A", "tie"),
        ("A", None, "unparseable"),
        (None, "tie", "unparseable"),
    ],
)
def test_outcome_rule(one: str | None, two: str | None, outcome: str) -> None:
    assert matchup_outcome([verdict("x", "y", one), verdict("y", "x", two)]) == outcome


def test_errored_verdict_is_unparseable() -> None:
    failed = verdict("y", "x", None, error="LLMTimeoutError: slow")
    assert matchup_outcome([verdict("x", "y", "A"), failed]) == "unparseable"


def test_builtin_prompts_and_questions() -> None:
    assert list(SYSTEM_PROMPTS) == [
        "plain",
        "chain_of_thought",
        "atomic",
        "reflective",
        "failure_first",
        "methodical",
        "concise",
    ]
    assert all(p["name"] and len(p["prompt"]) > 40 for p in SYSTEM_PROMPTS.values())
    ids = [q["id"] for q in TEST_QUESTIONS]
    assert len(ids) == len(set(ids)) == 12
    categories = Counter(q["category"] for q in TEST_QUESTIONS)
    assert categories == dict.fromkeys(
        ["reasoning", "math", "coding", "writing", "knowledge", "planning"], 2
    )
