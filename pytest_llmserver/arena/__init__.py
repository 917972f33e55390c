"""Arenas: system prompts against each other on one model, or models against each other,
judged pair by pair in both answer orders by an LLM judge that sees only "Answer A/B".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.arena.engine import TranscriptHook
    from pytest_llmserver.arena.judge import judge_messages, parse_verdict, split_judge_prompt
    from pytest_llmserver.arena.prompts import SYSTEM_PROMPTS, TEST_QUESTIONS
    from pytest_llmserver.arena.report import write_arena_report
    from pytest_llmserver.arena.results import (
        SELF_JUDGE_WARNING,
        ArenaMatchup,
        ArenaResult,
        ArenaStats,
        JudgeResult,
        PromptResponse,
        matchup_outcome,
    )
    from pytest_llmserver.arena.runner import (
        ModelArena,
        PromptArena,
        blind_labels,
    )

__all__ = [
    "SELF_JUDGE_WARNING",
    "SYSTEM_PROMPTS",
    "TEST_QUESTIONS",
    "ArenaMatchup",
    "ArenaResult",
    "ArenaStats",
    "JudgeResult",
    "ModelArena",
    "PromptArena",
    "PromptResponse",
    "TranscriptHook",
    "blind_labels",
    "judge_messages",
    "matchup_outcome",
    "parse_verdict",
    "split_judge_prompt",
    "write_arena_report",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "engine": "TranscriptHook",
            "judge": "judge_messages parse_verdict split_judge_prompt",
            "prompts": "SYSTEM_PROMPTS TEST_QUESTIONS",
            "report": "write_arena_report",
            "results": (
                "SELF_JUDGE_WARNING ArenaMatchup ArenaResult ArenaStats JudgeResult PromptResponse "
                "matchup_outcome"
            ),
            "runner": "ModelArena PromptArena blind_labels",
        },
    )
