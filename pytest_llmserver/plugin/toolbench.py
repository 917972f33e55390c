"""The tool bench under pytest: task parameters, YAML task files, and the session that runs
the selected tasks together and fails each test with its task's reason."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver._util import ProgressLine
from pytest_llmserver.gate import comparison_lines
from pytest_llmserver.plugin.progress import progress_line
from pytest_llmserver.plugin.sessions import Target
from pytest_llmserver.plugin.state import SESSIONS_KEY
from pytest_llmserver.report import (
    ChatHistoryManager,
    answers_section,
    chart_section,
    toolbench_chart,
)
from pytest_llmserver.toolbench import (
    STEP_MAX_TOKENS,
    AgentTask,
    TaskResult,
    TaskSchemaError,
    TaskScore,
    ToolbenchRun,
    load_tasks,
    run_toolbench,
    write_report,
)

TASK_KEY = pytest.StashKey[AgentTask]()


def _marks(task: AgentTask) -> list[pytest.MarkDecorator]:
    marks = [pytest.mark.llm, pytest.mark.toolbench]
    if task.tier != "base":
        marks.append(getattr(pytest.mark, task.tier))
    return marks


def task_param(task: AgentTask) -> Any:
    """A ``pytest.param`` for one task: id = task id, markers toolbench + tier."""
    return pytest.param(task, id=task.task_id, marks=_marks(task))


def task_of(item: pytest.Item) -> AgentTask | None:
    """The tool-bench task an item runs, if any."""
    task = item.stash.get(TASK_KEY, None)
    if task is None:
        callspec = getattr(item, "callspec", None)
        value = callspec.params.get("llm_task") if callspec is not None else None
        task = value if isinstance(value, AgentTask) else None
    return task


class YamlTaskItem(pytest.Function):
    """A test built from a YAML task (reported by its task id, not a Python path)."""

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class YamlTaskFile(pytest.File):
    """A ``*.llm.yaml`` file: each task in it becomes a test."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            tasks = load_tasks(self.path)
        except TaskSchemaError as exc:
            # One failing test carries the error; the rest of the run goes on.
            yield YamlTaskItem.from_parent(self, name="schema", callobj=_schema_error(exc))
            return
        for task in tasks:
            item = YamlTaskItem.from_parent(self, name=task.task_id, callobj=_yaml_test(task))
            for mark in _marks(task):
                item.add_marker(mark)
            item.stash[TASK_KEY] = task
            yield item


def _schema_error(exc: TaskSchemaError) -> Callable[[], None]:
    def run() -> None:
        pytest.fail(str(exc), pytrace=False)

    return run


def _yaml_test(task: AgentTask) -> Callable[..., None]:
    def run(llm_toolbench: ToolbenchSession, request: pytest.FixtureRequest) -> None:
        llm_toolbench.check(task, request.node)

    return run


class ToolbenchSession:
    """Runs the session's selected tasks together on first use (or, on an xdist worker, each
    task when its test asks); tests read the results; ``finalize`` writes the report."""

    def __init__(
        self,
        tasks: list[AgentTask],
        target: Target,
        *,
        per_task: bool = False,
        report_name: str = "toolbench",
    ) -> None:
        self.target = target
        self.tasks = tasks
        self._per_task = per_task
        self._report_name = report_name
        self.run: ToolbenchRun | None = None
        self.report_paths: tuple[Path, Path] | None = None
        self.failure: str | None = None
        self.interrupted = False

    def check(self, task: AgentTask, node: pytest.Item | None = None) -> None:
        """Fail the calling test with the task's one-line reason unless every trial passed;
        with a baseline, a task that failed there too is an expected failure (xfail).

        With K trials (``--llm-repeat``) the test passes only when all K pass: a task solved
        only some of the time is not reliably solved, and this matches the per-task
        transitions the gate compares (``passed_all``). How often it is solved is the pass@1
        of the report, with its interval; each trial's outcome and seed are in the test's
        properties (``trial_passed``, ``trial_seeds``) and the reason says ``c/K trials``.
        """
        result = self._result(task, None if node is None else node.config)
        if node is not None:
            node.user_properties += [
                ("llm_model", self.target.model),
                ("passed_all", result.passed_all),
                ("pass_at_1", round(result.pass_at_1, 4)),
            ]
            if len(result.trials) > 1:
                node.user_properties += [
                    ("trial_passed", result.trial_passed()),
                    ("trial_seeds", result.ordered_seeds()),
                ]
        if result.passed_all:
            return
        reason = result.reason
        if len(result.trials) > 1:
            reason = f"{result.passes}/{len(result.trials)} trials passed; {reason}"
        baseline = self.target.recorder.gate.baseline(self.target.fingerprint())
        before = None if baseline is None else baseline.tasks.get(task.task_id)
        if before is not None and not before.get("passed_all"):
            pytest.xfail(f"{task.task_id}: known failure, failed in the baseline too: {reason}")
        if before is not None:
            pytest.fail(
                f"{task.task_id}: new failure, passed in the baseline: {reason}",
                pytrace=False,
            )
        pytest.fail(f"{task.task_id}: {reason}", pytrace=False)

    def _result(self, task: AgentTask, config: pytest.Config | None = None) -> TaskResult:
        """The task's result, running what has not run yet (a failure is reported to every
        test instead of running again); with ``config``, live progress through its reporter."""
        done = self.run is not None and task.task_id in self.run.results
        if not done and self.failure is None and (self._per_task or self.run is None):
            finished: dict[str, TaskResult] = {}
            started_ns = time.perf_counter_ns()
            try:
                fresh = asyncio.run(
                    self._run_tasks([task] if self._per_task else self.tasks, finished, config)
                )
            except KeyboardInterrupt:
                # Stopped (Ctrl-C, SIGTERM): keep the tasks that finished for the report.
                self.interrupted = True
                self._add(self._partial(finished, started_ns))
                raise
            except Exception as exc:
                self.failure = f"tool bench run failed: {type(exc).__name__}: {exc}"
            else:
                self._add(fresh)
        if self.run is None:
            pytest.fail(self.failure or "tool bench did not run", pytrace=False)
        result = self.run.results.get(task.task_id)
        if result is None:
            pytest.fail(
                self.failure or f"{task.task_id}: was not in the selected run", pytrace=False
            )
        return result

    def _add(self, run: ToolbenchRun) -> None:
        self.run = run if self.run is None else _merged(self.run, run)

    def _partial(self, finished: dict[str, TaskResult], started_ns: int) -> ToolbenchRun:
        run = self.target.settings.run
        return ToolbenchRun(
            model=self.target.model,
            server_url=self.target.server.url,
            repeat=run.repeat,
            concurrency=run.concurrency,
            results=dict(finished),
            wall_s=(time.perf_counter_ns() - started_ns) * 1e-9,
        )

    def finalize(self) -> None:
        """Write the report and hand the results to the recorder (once, at session end)."""
        if self.run is None or self.report_paths is not None:
            return
        run, target = self.run, self.target
        fingerprint = target.fingerprint()
        comparison = target.recorder.gate.compare_toolbench(fingerprint, run.outcomes())
        directory = target.reports_dir()
        summary = [row.__dict__ for row in run.summaries()]
        charts = toolbench_chart(summary, directory, f"{self._report_name}-pass-rate")
        extra = chart_section(charts, directory)
        if self.interrupted:
            extra += [
                f"**Interrupted:** {len(run.results)} of {len(self.tasks)} tasks finished before "
                "the run was stopped; the figures above cover those only.",
                "",
            ]
        extra += answers_section(
            [
                (task_id, attempt, trajectory.final_answer)
                for task_id, result in run.results.items()
                for attempt, (trajectory, _) in enumerate(result.trials, 1)
            ]
        )
        if comparison is not None:
            extra += ["## Compared with the baseline", ""]
            extra += [f"- {line}" for line in comparison_lines(comparison)]
        self.report_paths = write_report(
            run, directory, extra, self._report_name, redactor=target.recorder.redactor
        )
        target.recorder.add_toolbench(run, fingerprint, self.report_paths[0], charts, comparison)
        if target.settings.run.save_transcripts:
            history = ChatHistoryManager(directory / "transcripts")
            for task_id, result in run.results.items():
                for trial, (trajectory, score) in enumerate(result.trials):
                    target.save_transcript(
                        history,
                        trajectory.messages,
                        target.model,
                        ("toolbench", task_id, "passed" if score.passed else "failed"),
                        {"trial": trial, "reason": score.reason},
                        name=f"{task_id}-attempt{trial + 1}",
                    )

    async def _run_tasks(
        self,
        tasks: list[AgentTask],
        finished: dict[str, TaskResult],
        config: pytest.Config | None = None,
    ) -> ToolbenchRun:
        run = self.target.settings.run
        trials = len(tasks) * max(1, run.repeat)
        live = BenchProgress(
            None if config is None else progress_line(config),
            f"tool bench {self.target.model}",
            trials,
            run.concurrency,
        )
        ticker = asyncio.ensure_future(live.tick())
        try:
            async with self.target.client() as client:
                done = await run_toolbench(
                    client,
                    tasks,
                    repeat=run.repeat,
                    concurrency=run.concurrency,
                    max_tokens=run.max_tokens or STEP_MAX_TOKENS,
                    on_done=live.done,
                    into=finished,
                )
            done.notes[:0] = self.target.notes
            return done
        finally:
            ticker.cancel()
            live.close()


class BenchProgress:
    """The tool bench's live line: trials done of all, passed, running, elapsed time."""

    def __init__(
        self, line: ProgressLine | None, label: str, trials: int, concurrency: int
    ) -> None:
        self._line = line
        self._label = label
        self._trials = trials
        self._concurrency = max(1, concurrency)
        self._started_s = time.monotonic()
        self.finished = 0
        self.passed = 0

    def text(self) -> str:
        """The line now, e.g. ``tool bench m: done 3/7 | passed 2 | running 4 | 12 s``."""
        running = min(self._concurrency, self._trials - self.finished)
        elapsed = time.monotonic() - self._started_s
        return (
            f"{self._label}: done {self.finished}/{self._trials} | passed {self.passed} | "
            f"running {running} | {elapsed:.0f} s"
        )

    def done(self, task: AgentTask, score: TaskScore) -> None:
        """One trial finished."""
        self.finished += 1
        self.passed += int(score.passed)
        self.show(force=self.finished == self._trials)

    def show(self, *, force: bool = False) -> None:
        if self._line is not None:
            self._line.show(self.text(), force=force)

    async def tick(self, every_s: float = 1.0) -> None:
        """Keep the elapsed time moving while no trial finishes."""
        while True:
            self.show()
            await asyncio.sleep(every_s)

    def close(self) -> None:
        if self._line is not None:
            self._line.close()


def _merged(run: ToolbenchRun, more: ToolbenchRun) -> ToolbenchRun:
    """``run`` with the task results of ``more`` added and the wall times summed."""
    return replace(run, results={**run.results, **more.results}, wall_s=run.wall_s + more.wall_s)


def finalize_all(config: pytest.Config) -> None:
    """Write every model's tool-bench report (at session end)."""
    for bench in config.stash.get(SESSIONS_KEY, {}).values():
        bench.finalize()
