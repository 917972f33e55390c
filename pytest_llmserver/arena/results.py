"""Arena records: answers, verdicts, matchups with the both-orders rule, and the leaderboard."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

TIE = "tie"
UNPARSEABLE = "unparseable"
SELF_JUDGE_WARNING = "the judge is the model under test; self-judging is biased"


@dataclass
class PromptResponse:
    """One contestant's answer to one question, with its timing; ``error`` when it failed."""

    contestant: str
    question_id: str
    text: str
    ttft_s: float | None = None
    decode_tps: float | None = None
    output_tokens: int | None = None
    e2e_s: float | None = None
    error: str | None = None


@dataclass
class JudgeResult:
    """One judging of one matchup in one order: ``first`` was shown as "A", ``second`` as "B".

    ``winner`` is what the judge said ("A", "B" or "tie"; None when unparseable). ``error`` is
    ``"unparseable: ..."`` for a reply without a usable verdict, or the failure of the request.
    """

    question_id: str
    first: str
    second: str
    winner: str | None = None
    score_a: float | None = None
    score_b: float | None = None
    reason: str = ""
    raw: str = ""
    parsed: bool = False
    error: str | None = None

    @property
    def chosen(self) -> str | None:
        """The contestant this verdict names, ``"tie"``, or None without a verdict."""
        if not self.parsed or self.error is not None:
            return None
        if self.winner == "A":
            return self.first
        if self.winner == "B":
            return self.second
        return TIE if self.winner == TIE else None

    def score_of(self, contestant: str) -> float | None:
        """The score this verdict gave ``contestant`` (None if not scored or not in it)."""
        if not self.parsed:
            return None
        if contestant == self.first:
            return self.score_a
        if contestant == self.second:
            return self.score_b
        return None


def matchup_outcome(verdicts: Sequence[JudgeResult]) -> str:
    """The both-orders rule: a contestant wins only if every order names it.

    Any errored or unparseable order gives ``"unparseable"``; a tie in any order, or
    winners that change with the order (position bias), give ``"tie"``.
    """
    chosen = [v.chosen for v in verdicts]
    if not chosen or any(c is None for c in chosen):
        return UNPARSEABLE
    if TIE in chosen:
        return TIE
    names = set(chosen)
    return str(chosen[0]) if len(names) == 1 else TIE


@dataclass
class ArenaMatchup:
    """Two contestants on one question, judged in both orders; ``outcome`` by the rule."""

    question_id: str
    left: str
    right: str
    verdicts: list[JudgeResult] = field(default_factory=list)
    outcome: str = UNPARSEABLE

    @property
    def position_bias(self) -> bool:
        """True when both orders gave a clear winner but the judge followed the position."""
        chosen = [v.chosen for v in self.verdicts]
        return (
            len(chosen) == 2 and None not in chosen and TIE not in chosen and chosen[0] != chosen[1]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, ``position_bias`` included."""
        return asdict(self) | {"position_bias": self.position_bias}


@dataclass
class ArenaStats:
    """One contestant's record: W/L/T (ties count half in ``win_rate``), scores, speed."""

    contestant: str
    wins: int = 0
    losses: int = 0
    ties: int = 0
    unparseable: int = 0
    win_rate: float | None = None
    mean_score: float | None = None
    score_n: int = 0
    per_question: dict[str, dict[str, int]] = field(default_factory=dict)
    ttft_p50_s: float | None = None
    decode_tps_p50: float | None = None


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def compute_stats(
    contestants: Sequence[str],
    matchups: Sequence[ArenaMatchup],
    responses: Sequence[PromptResponse],
) -> list[ArenaStats]:
    """Per-contestant stats, best first: win rate, then mean score (None last), then name."""
    stats = {name: ArenaStats(contestant=name) for name in contestants}
    scores: dict[str, list[float]] = {name: [] for name in contestants}
    for matchup in matchups:
        for name in (matchup.left, matchup.right):
            row = stats[name]
            cell = row.per_question.setdefault(
                matchup.question_id, {"wins": 0, "losses": 0, "ties": 0, "unparseable": 0}
            )
            if matchup.outcome == UNPARSEABLE:
                kind = "unparseable"
            elif matchup.outcome == TIE:
                kind = "ties"
            else:
                kind = "wins" if matchup.outcome == name else "losses"
            cell[kind] += 1
            setattr(row, kind, getattr(row, kind) + 1)
            for verdict in matchup.verdicts:
                score = verdict.score_of(name)
                if score is not None:
                    scores[name].append(score)
    for name, row in stats.items():
        judged = row.wins + row.losses + row.ties
        row.win_rate = (row.wins + 0.5 * row.ties) / judged if judged else None
        row.score_n = len(scores[name])
        row.mean_score = statistics.fmean(scores[name]) if scores[name] else None
        own = [r for r in responses if r.contestant == name and r.error is None]
        row.ttft_p50_s = _median(r.ttft_s for r in own)
        row.decode_tps_p50 = _median(r.decode_tps for r in own)

    def order(row: ArenaStats) -> tuple[float, float, str]:
        rate = -1.0 if row.win_rate is None else row.win_rate
        score = -1.0 if row.mean_score is None else row.mean_score
        return (-rate, -score, row.contestant)

    return sorted(stats.values(), key=order)


@dataclass
class ArenaResult:
    """A whole arena run: answers, matchups, leaderboard (``stats``) and warnings."""

    kind: str
    contestants: list[str]
    labels: dict[str, str]
    questions: list[dict[str, Any]]
    responses: list[PromptResponse]
    matchups: list[ArenaMatchup]
    stats: list[ArenaStats]
    judge_model: str
    seed: int
    wall_s: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return {
            "kind": self.kind,
            "contestants": list(self.contestants),
            "labels": dict(self.labels),
            "questions": [dict(q) for q in self.questions],
            "responses": [asdict(r) for r in self.responses],
            "matchups": [m.to_dict() for m in self.matchups],
            "stats": [asdict(s) for s in self.stats],
            "judge_model": self.judge_model,
            "seed": self.seed,
            "wall_s": self.wall_s,
            "warnings": list(self.warnings),
        }
