"""The tool bench, through the real client, against the hostile server of ``tests.hostile``
with the faults of ``tests.hostile.mixed`` served to every third model turn: every turn is
one step, a failed turn ends its trajectory with the documented error class, every task
finishes with a score, and the report is written."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pytest_llmserver.client import ModelClient, Timeouts
from pytest_llmserver.toolbench import builtin_tasks, run_toolbench, write_report
from tests.hostile.mixed import every_third, expected_classes
from tests.hostile.replies import Api
from tests.hostile.server import HostileServer


@pytest.mark.parametrize("api", ["openai", "ollama"])
async def test_mixed_faults_fail_only_their_trials_and_lose_no_turn(
    api: Api, tmp_path: Path
) -> None:
    tasks = builtin_tasks()
    async with (
        HostileServer(schedule=every_third()) as server,
        ModelClient(
            {"url": server.url, "type": api}, "m", timeouts=Timeouts.from_total(1.0)
        ) as client,
    ):
        run = await run_toolbench(client, tasks, concurrency=8, max_tokens=16)
    trajectories = [t for result in run.results.values() for t, _ in result.trials]
    assert sorted(run.results) == sorted(t.task_id for t in tasks)  # every task scored
    steps = [s for t in trajectories for s in t.steps]
    served = expected_classes(server, api)
    assert len(steps) == sum(served.values())  # one step per model turn sent
    assert Counter(s.error_class or "ok" for s in steps) == served
    assert sum(s.error_class is not None for s in steps) >= 2
    for trajectory in trajectories:
        failed = [s for s in trajectory.steps if s.error_class]
        if trajectory.error_class is None:
            assert not failed
        else:  # the failed turn is the last one, and says why
            assert failed == trajectory.steps[-1:]
            assert failed[0].error_class == trajectory.error_class
            assert failed[0].error == trajectory.error
            assert trajectory.error
            assert "\n" not in trajectory.error
            assert not run.results[trajectory.task_id].passed_all
    absurd = sum(s.fault == "absurd_counts" for s in server.log)
    assert sum(bool(s.suspect) for s in steps) == absurd
    md, js = write_report(run, tmp_path)
    assert md.exists()
    assert js.exists()
