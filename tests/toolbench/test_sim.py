"""The tool bench end to end against the simulator: the oracle passes all 45 tasks through the
real HTTP loop and scorer; scripted bad models fail exactly the tasks they must."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.client import ModelClient
from pytest_llmserver.servers import DISTRACTED, NO_TOOLS, OBEDIENT, ORACLE
from pytest_llmserver.servers.bench_sim import bench_sim_config
from pytest_llmserver.servers.oracle import BenchPolicy, distractor_names
from pytest_llmserver.sim import SimConfig, SimThread, TimingModel
from pytest_llmserver.toolbench import (
    AgentTask,
    RequiredCall,
    builtin_tasks,
    load_tasks,
    run_agent_loop,
    run_toolbench,
    score_task,
)
from pytest_llmserver.toolbench.runner import ToolbenchRun
from pytest_llmserver.toolbench.task import PlannedCall, SolutionStep
from pytest_llmserver.toolbench.tools import REGISTRY, ToolSpec, ToolState

FAST = TimingModel(ttft_s=0.002, per_token_s=0.0005)
EXAMPLE_SUITE = Path(__file__).parents[2] / "example_suites" / "orders.llm.yaml"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    base = bench_sim_config()
    config = SimConfig(models=base.models, policy=base.policy, timing=FAST)
    with SimThread(config) as sim:
        yield sim.url


async def bench(url: str, model: str, api: str = "openai", **kwargs: Any) -> ToolbenchRun:
    async with ModelClient({"url": url, "type": api}, model, concurrency=8, **kwargs) as client:
        return await run_toolbench(client, builtin_tasks(), concurrency=8)


def failures(run: ToolbenchRun) -> dict[str, str]:
    return {tid: r.reason for tid, r in run.results.items() if not r.passed_all}


@pytest.mark.parametrize("api", ["openai", "ollama"])
async def test_oracle_passes_all_45(sim_url: str, api: str) -> None:
    run = await bench(sim_url, ORACLE, api)
    assert len(run.results) == 45
    assert failures(run) == {}
    assert run.diagnostics().malformed_args == 0


async def test_model_without_tools_fails_every_tool_task(sim_url: str) -> None:
    fails = failures(await bench(sim_url, NO_TOOLS))
    for task in builtin_tasks():
        if task.tool_use_required and not task.expect_zero_tools:
            assert fails[task.task_id] == "no tool was called"
        elif task.task_id in fails:
            assert fails[task.task_id].startswith("answer lacks")


def _offers(task: AgentTask, names: set[str]) -> bool:
    return any(spec.name in names for spec in task.catalog())


async def test_model_obeying_injections_fails_the_injection_tasks(sim_url: str) -> None:
    fails = failures(await bench(sim_url, OBEDIENT))
    injected = {
        t.task_id
        for t in builtin_tasks()
        if {"prompt_injection_direct", "prompt_injection_multihop"} & set(t.capabilities)
        and _offers(t, {"send_email"})
    }
    assert injected
    assert set(fails) == injected
    for reason in fails.values():
        assert reason == "called forbidden tool send_email" or reason.startswith(
            "made forbidden call send_email(to="
        )


async def test_model_taking_distractors_fails_the_distractor_tasks(sim_url: str) -> None:
    fails = failures(await bench(sim_url, DISTRACTED))
    distracted = {
        t.task_id
        for t in builtin_tasks()
        if _offers(t, set(distractor_names())) and t.required_calls
    }
    assert distracted
    assert set(fails) == distracted
    assert all(reason.startswith("missing call ") for reason in fails.values())


async def test_garbage_mid_task_gives_a_reason_and_the_run_goes_on(sim_url: str) -> None:
    headers = {"x-sim-fault": "malformed_event", "x-sim-fault-after-tokens": "1"}
    async with ModelClient({"url": sim_url}, ORACLE, headers=headers) as client:
        run = await run_toolbench(client, builtin_tasks()[:5], concurrency=5)
    assert len(run.results) == 5
    for result in run.results.values():
        assert result.reason.startswith("protocol error: malformed event in the stream")


async def test_a_tool_that_raises_is_reported_and_the_loop_goes_on(sim_url: str) -> None:
    def explode(arguments: dict[str, Any], state: ToolState) -> Any:
        raise RuntimeError("disk on fire")

    boom = ToolSpec(
        "inventory", "Stock level of an item.", {"type": "object", "properties": {}}, explode
    )
    task = AgentTask(
        task_id="RAISES",
        tier="base",
        difficulty="Q",
        prompt="How many widgets are in stock?",
        tools=("inventory",),
        declared_tools={"inventory": boom},
        expected_numbers=(12,),
        required_calls=(RequiredCall("inventory"),),
    )
    scripted = replace(
        task,
        solution=(
            SolutionStep(calls=(PlannedCall("inventory", {}),)),
            SolutionStep(answer="The stock tool failed, so I cannot tell."),
        ),
    )
    with SimThread(SimConfig(models=(ORACLE,), policy=BenchPolicy([scripted]), timing=FAST)) as sim:
        async with ModelClient({"url": sim.url}, ORACLE) as client:
            trajectory = await run_agent_loop(client, scripted)
    (call,) = trajectory.calls
    assert call.is_error
    assert "tool inventory failed: RuntimeError: disk on fire" in call.result
    assert trajectory.answered
    assert score_task(task, trajectory).reason == "answer lacks the number 12"


def test_registry_names_are_tool_names() -> None:
    assert all(name == spec.name for name, spec in REGISTRY.items())


# Through pytest ----------------------------------------------------------------------------


def run_pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        "--llm-server=sim", f"--llm-logs={pytester.path / 'logs'}", *args
    )


@pytest.mark.usefixtures("llm_pytester")
def test_pytest_oracle_runs_all_45(pytester: pytest.Pytester) -> None:
    result = run_pytest(pytester, "--llm-model=oracle", "-m", "toolbench", "--llm-concurrency=8")
    result.assert_outcomes(passed=45)
    result.stdout.fnmatch_lines(["*tool bench: oracle*", "all         45 tasks  pass@1 100.0%*"])
    report = pytester.path / "logs" / "latest" / "toolbench.md"
    assert "| all | 45 | 100.0% | 100.0% |" in report.read_text()


@pytest.mark.usefixtures("llm_pytester")
def test_pytest_quick_tier_and_repeats(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester, "--llm-model=oracle", "-m", "toolbench and quick", "--llm-repeat=3"
    )
    result.assert_outcomes(passed=7)
    data = json.loads((pytester.path / "logs" / "latest" / "toolbench.json").read_text())
    assert data["repeat"] == 3
    assert [len(t["trials"]) for t in data["tasks"]] == [3] * 7


@pytest.mark.usefixtures("llm_pytester")
def test_pytest_failures_carry_the_reason(pytester: pytest.Pytester) -> None:
    result = run_pytest(pytester, f"--llm-model={NO_TOOLS}", "-m", "toolbench and quick")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 1
    result.stdout.fnmatch_lines(["*: no tool was called"])
    report = (pytester.path / "logs" / "latest" / "toolbench.md").read_text()
    assert "no tool was called" in report


@pytest.mark.usefixtures("llm_pytester")
def test_yaml_schema_error_fails_one_test_and_the_run_goes_on(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".llm.yaml",
        bad="tasks:\n  - id: A\n    tier: quick\n    prompt: p\n    tools: []\n    speed: fast\n",
    )
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    result = run_pytest(pytester, "bad.llm.yaml", "test_other.py", "-rf")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*bad.llm.yaml:6: task 'A': unknown field 'speed' (allowed: *",
            "FAILED bad.llm.yaml::schema*",
        ]
    )


@pytest.mark.usefixtures("llm_pytester")
def test_user_yaml_suite_runs_as_tests(pytester: pytest.Pytester) -> None:
    example = EXAMPLE_SUITE.read_text()
    pytester.makefile(".llm.yaml", orders=example)
    policy = BenchPolicy(load_tasks(EXAMPLE_SUITE))
    with SimThread(SimConfig(models=(ORACLE,), policy=policy, timing=FAST)) as sim:
        result = pytester.runpytest_inprocess(
            "orders.llm.yaml", f"--llm-server={sim.url}", f"--llm-logs={pytester.path / 'logs'}"
        )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*tool bench: oracle*"])
