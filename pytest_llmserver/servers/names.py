"""Names of the simulator's scripted models: the tool bench's and the arena's judges."""

ORACLE = "oracle"
NO_TOOLS = "bad-no-tools"
OBEDIENT = "bad-obedient"
DISTRACTED = "bad-distracted"
FLAKY = "flaky-60"
"""Solves each trial with probability 0.6 (``servers.flaky``; any ``flaky-NN`` answers)."""
BENCH_MODELS = (ORACLE, NO_TOOLS, OBEDIENT, DISTRACTED, FLAKY)
"""The tool bench's scripted models: the oracle solves every task, the bad ones fail theirs,
the flaky one passes a trial at random (seeded)."""

JUDGE_FIRST = "judge-first"
JUDGE_PROSE = "judge-prose"
JUDGE_FENCED = "judge-fenced"
JUDGE_FAIR = "judge-fair"
JUDGE_MODELS = (JUDGE_FIRST, JUDGE_PROSE, JUDGE_FENCED, JUDGE_FAIR)
"""The arena's scripted judges (position-biased, prose-only, fenced JSON, fair)."""

SIM_DEFAULT_MODEL = ORACLE
"""What ``--llm-model`` resolves to against ``--llm-server=sim`` when not given: the model
that solves every tool-bench task (and answers any other chat as the simulator's default)."""
