"""Scripted judge models for the simulator: position-biased, prose-only, fenced and fair."""

from __future__ import annotations

import json

from pytest_llmserver.arena import split_judge_prompt
from pytest_llmserver.servers.names import JUDGE_FENCED, JUDGE_FIRST, JUDGE_MODELS, JUDGE_PROSE
from pytest_llmserver.sim import Policy, SimReply, SimRequest, message_text


def _size(text: str) -> int:
    return len(text.split())


def _longer(answer_a: str, answer_b: str) -> str:
    a, b = _size(answer_a), _size(answer_b)
    return "A" if a > b else "B" if b > a else "tie"


def _proportional(answer_a: str, answer_b: str) -> tuple[float, float]:
    """Scores out of 10 proportional to length, the longer answer getting 10."""
    a, b = _size(answer_a), _size(answer_b)
    top = max(a, b, 1)
    return round(10.0 * a / top, 1), round(10.0 * b / top, 1)


class ArenaJudgePolicy:
    """Serves the scripted judges of ``JUDGE_MODELS`` by name; any other model goes to ``fallback``.

    ``judge-first`` always picks A (pure position bias); ``judge-prose`` never writes JSON;
    ``judge-fenced`` puts a verdict for the longer answer in a fenced block between prose;
    ``judge-fair`` writes bare JSON for the longer answer after a reasoning block holding a
    decoy verdict for B.
    """

    def __init__(self, fallback: Policy) -> None:
        self.fallback = fallback

    def respond(self, request: SimRequest) -> SimReply:
        """The scripted judge's verdict, or the fallback's reply for other models."""
        if request.model not in JUDGE_MODELS:
            return self.fallback.respond(request)
        if request.model == JUDGE_FIRST:
            verdict = {
                "winner": "A",
                "score_a": 8,
                "score_b": 3,
                "reason": "The first answer is better.",
            }
            return SimReply(content=json.dumps(verdict))
        if request.model == JUDGE_PROSE:
            return SimReply(
                content=(
                    "Both answers have their merits, although Answer A reads a little more "
                    "smoothly. On balance I lean towards Answer A, but it is close."
                )
            )
        user = next(
            (
                message_text(m.get("content"))
                for m in reversed(request.messages)
                if m.get("role") == "user"
            ),
            "",
        )
        parts = split_judge_prompt(user)
        if parts is None:
            return SimReply(content="I cannot find two answers to compare in this prompt.")
        _, answer_a, answer_b = parts
        score_a, score_b = _proportional(answer_a, answer_b)
        verdict = {
            "winner": _longer(answer_a, answer_b),
            "score_a": score_a,
            "score_b": score_b,
            "reason": "The longer answer {covers more} of the question.",
        }
        if request.model == JUDGE_FENCED:
            return SimReply(
                content=(
                    "I compared both answers for coverage.\n\n```json\n"
                    f"{json.dumps(verdict, indent=2)}\n```\n\n"
                    "That is my verdict; the scores are out of 10."
                )
            )
        decoy = '<think>At first glance {"winner": "B"} looks right, but let me count.</think>'
        return SimReply(content=f"{decoy}\n{json.dumps(verdict)}")
