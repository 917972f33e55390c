"""Tiers mean something: every built-in task fits its tier's rule, and the difficulty order
quick < base < hard < brutal < extreme shows in the computed difficulty factors."""

from __future__ import annotations

from itertools import pairwise
from statistics import mean

import pytest

from pytest_llmserver.toolbench import TIERS, AgentTask, builtin_tasks
from pytest_llmserver.toolbench.tiers import (
    DIFFICULTY_ORDER,
    TIER_RULES,
    DifficultyFactors,
    difficulty_factors,
    tier_problems,
)

TASKS = builtin_tasks()


def challenges(tier: str) -> list[int]:
    return [difficulty_factors(t).challenge for t in TASKS if t.tier == tier]


def test_realistic_is_an_axis_outside_the_difficulty_order() -> None:
    assert (*DIFFICULTY_ORDER, "realistic") == TIERS
    assert set(TIER_RULES) == set(TIERS)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.task_id)
def test_every_task_fits_its_tier(task: AgentTask) -> None:
    assert tier_problems(task) == []


def test_difficulty_rises_along_the_order() -> None:
    for easier, harder in pairwise(DIFFICULTY_ORDER):
        assert min(challenges(easier)) <= min(challenges(harder)), (easier, harder)
        assert mean(challenges(easier)) < mean(challenges(harder)), (easier, harder)
    assert max(challenges("quick")) == 0
    assert min(challenges("extreme")) >= 3


def test_no_one_turn_clarification_in_extreme() -> None:
    for task in TASKS:
        if task.tier == "extreme":
            assert len(task.solution) > 1, task.task_id


def test_factors_and_rules() -> None:
    factors = DifficultyFactors(steps=4, calls=5, catalog=51, traps=2, recovery=True)
    assert factors.challenge == 6
    assert factors.to_dict()["challenge"] == 6
    assert TIER_RULES["quick"].problems(factors) == [
        "challenge 6 > 0",
        "4 model turns > 2",
        "catalog of 51 tools > 14",
    ]
    easy = DifficultyFactors(steps=1, calls=0, catalog=14, traps=0, recovery=False)
    assert TIER_RULES["extreme"].problems(easy) == [
        "challenge 0 < 3",
        "catalog of 14 tools < 30",
    ]
