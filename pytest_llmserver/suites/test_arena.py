"""The arenas as tests (marker ``arena``): system prompts on the model under test, and models
against each other, each judged blind in both answer orders."""

from __future__ import annotations

import pytest

from pytest_llmserver.plugin import ArenaSession, check_arena

pytestmark = [pytest.mark.llm, pytest.mark.arena]


def test_arena_prompts(llm_arena: ArenaSession) -> None:
    check_arena(llm_arena.run_prompts())


def test_arena_models(llm_arena: ArenaSession) -> None:
    check_arena(llm_arena.run_models())
