"""``StressTester``: the stress modes on one server and model; each run returns a
``TestStats``. Each mode is a function in its own module taking the tester; the class binds
them as its ``run_*`` methods, so each signature and docstring is written once."""

from __future__ import annotations

from pytest_llmserver.stress.modes import (
    capacity,
    consistency,
    realistic_user,
    sustained,
    sweep,
    throughput,
    token_stress,
    tool_bench,
)
from pytest_llmserver.stress.modes.base import TesterBase


class StressTester(TesterBase):
    """Runs the stress modes against one server and model (see ``TesterBase`` for the
    settings, the last run's ``results`` and ``stats``, and where records and reports go)."""

    run_throughput_test = throughput.run_throughput_test
    run_sustained_load_test = sustained.run_sustained_load_test
    run_consistency_test = consistency.run_consistency_test
    run_token_stress_test = token_stress.run_token_stress_test
    run_realistic_user_test = realistic_user.run_realistic_user_test
    run_tool_bench_test = tool_bench.run_tool_bench_test
    run_sweep_test = sweep.run_sweep_test
    run_capacity_test = capacity.run_capacity_test
