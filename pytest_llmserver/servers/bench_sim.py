"""The simulator as the plugin runs it: the tool bench's scripted models (``oracle``,
``bad-*``) and the arena's scripted judges (``judge-*``) added to the default models.

``python -m pytest_llmserver.servers.bench_sim`` serves it with the simulator's options.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace

from pytest_llmserver.servers.judges import ArenaJudgePolicy
from pytest_llmserver.servers.names import BENCH_MODELS, JUDGE_MODELS
from pytest_llmserver.servers.oracle import BenchPolicy, distractor_names
from pytest_llmserver.sim import SimConfig, main
from pytest_llmserver.toolbench import builtin_tasks


def bench_models(base: Sequence[str] = SimConfig().models) -> tuple[str, ...]:
    """``base`` followed by the scripted models and judges (each once)."""
    return tuple(dict.fromkeys((*base, *BENCH_MODELS, *JUDGE_MODELS)))


def with_bench(config: SimConfig) -> SimConfig:
    """``config`` serving the scripted models and judges beside its own models."""
    policy = ArenaJudgePolicy(BenchPolicy(builtin_tasks(), distractors=distractor_names()))
    return replace(config, models=bench_models(config.models), policy=policy)


def bench_sim_config(slowdown: float = 1.0) -> SimConfig:
    """The plugin's simulator; ``slowdown`` multiplies its TTFT and token gap (1.3 = 30%
    slower, to rehearse a regression)."""
    base = SimConfig()
    timing = replace(
        base.timing,
        ttft_s=base.timing.ttft_s * slowdown,
        per_token_s=base.timing.per_token_s * slowdown,
    )
    return with_bench(replace(base, timing=timing))


if __name__ == "__main__":
    sys.exit(main(prog="python -m pytest_llmserver.servers.bench_sim", extend=with_bench))
