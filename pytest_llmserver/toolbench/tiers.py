"""What makes a tier harder, stated and computed: each task's difficulty factors (model turns
and calls of its reference solution, catalog size, traps, recovery) and the rule of each tier.
``realistic`` is an axis of its own (envelopes, pagination, rate limits, a large catalog), not
a step in the difficulty order."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pytest_llmserver.toolbench.task import AgentTask

DIFFICULTY_ORDER = ("quick", "base", "hard", "brutal", "extreme")
"""The tiers from easiest to hardest; ``realistic`` stands outside this order."""

TRAPS = frozenset(
    {
        "distractor_recovery",
        "prompt_injection_direct",
        "prompt_injection_multihop",
        "exfiltration_refusal",
        "conflicting_sources",
        "refusal",
        "clarification",
        "strict_arguments",
        "pagination",
        "verbose_json",
    }
)
"""Capabilities that set a trap: a wrong tool, an injected order, a request to refuse, data
hidden in an envelope or on a later page."""

RECOVERY = frozenset({"error_recovery", "retry_transient", "distractor_recovery"})
"""Capabilities that need recovery from a failed call."""

LARGE_CATALOG = 30
LONG_STEPS = 4
MANY_CALLS = 5


@dataclass(frozen=True)
class DifficultyFactors:
    """What makes a task hard, computed from its reference solution, catalog and capabilities.
    ``challenge`` counts the hard things: each trap, recovery, a large catalog (30 tools or
    more), a long chain (4 model turns or more), many calls (5 or more)."""

    steps: int
    calls: int
    catalog: int
    traps: int
    recovery: bool

    @property
    def challenge(self) -> int:
        """The number of hard things about the task."""
        return (
            self.traps
            + int(self.recovery)
            + int(self.catalog >= LARGE_CATALOG)
            + int(self.steps >= LONG_STEPS)
            + int(self.calls >= MANY_CALLS)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, ``challenge`` included."""
        return {**asdict(self), "challenge": self.challenge}


def difficulty_factors(task: AgentTask) -> DifficultyFactors:
    """The task's difficulty factors."""
    capabilities = set(task.capabilities)
    return DifficultyFactors(
        steps=len(task.solution),
        calls=sum(len(step.calls) for step in task.solution),
        catalog=len(task.catalog()),
        traps=len(capabilities & TRAPS),
        recovery=bool(capabilities & RECOVERY),
    )


@dataclass(frozen=True)
class TierRule:
    """What a tier's tasks have: bounds on the factors, and one line for the README."""

    summary: str
    min_challenge: int = 0
    max_challenge: int | None = None
    max_steps: int | None = None
    max_catalog: int | None = None
    min_catalog: int = 0

    def problems(self, factors: DifficultyFactors) -> list[str]:
        """How ``factors`` break this rule (empty: they fit)."""
        found = []
        if factors.challenge < self.min_challenge:
            found.append(f"challenge {factors.challenge} < {self.min_challenge}")
        if self.max_challenge is not None and factors.challenge > self.max_challenge:
            found.append(f"challenge {factors.challenge} > {self.max_challenge}")
        if self.max_steps is not None and factors.steps > self.max_steps:
            found.append(f"{factors.steps} model turns > {self.max_steps}")
        if self.max_catalog is not None and factors.catalog > self.max_catalog:
            found.append(f"catalog of {factors.catalog} tools > {self.max_catalog}")
        if factors.catalog < self.min_catalog:
            found.append(f"catalog of {factors.catalog} tools < {self.min_catalog}")
        return found


TIER_RULES = {
    "quick": TierRule(
        "smoke tests: one or two turns, at most one call, the 14 simple tools, no trap",
        max_challenge=0,
        max_steps=2,
        max_catalog=14,
    ),
    "base": TierRule(
        "a few calls in up to three turns (parallel or dependent), simple tools, at most one trap",
        max_challenge=1,
        max_steps=3,
        max_catalog=14,
    ),
    "hard": TierRule(
        "one to three hard things: strict arguments, a distractor, a direct injection, a "
        "refusal, an error to recover from",
        min_challenge=1,
        max_challenge=3,
    ),
    "brutal": TierRule(
        "at least two hard things: multi-hop injections, exfiltration attempts, long dependent "
        "chains, a large catalog",
        min_challenge=2,
    ),
    "extreme": TierRule(
        "at least three hard things in a large catalog: long-horizon orchestration combining "
        "traps, retries and pagination",
        min_challenge=3,
        min_catalog=LARGE_CATALOG,
    ),
    "realistic": TierRule(
        "a separate axis, not a difficulty step: verbose envelopes, pagination, a rate-limited "
        "API, conflicting sources, in a large catalog",
        min_catalog=LARGE_CATALOG,
    ),
}
"""The rule of every tier (``TIERS``)."""


def tier_problems(task: AgentTask) -> list[str]:
    """How ``task`` breaks its tier's rule (empty: it fits)."""
    return TIER_RULES[task.tier].problems(difficulty_factors(task))
