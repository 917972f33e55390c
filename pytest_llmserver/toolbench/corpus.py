"""The validation corpus: hand-written trajectories a careful grader passes (acceptable) or
fails (unacceptable), replayed against each task's own tools and judged by ``score_task``.

Run ``python -m pytest_llmserver.toolbench.corpus [FILES_OR_DIRS...]`` (default: the package's
``validation/`` directory) to list every entry the scorer misjudges; exit status 1 if any.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmserver.toolbench.agent import (
    StepRecord,
    ToolCallRecord,
    Trajectory,
    resolve_tool_name,
)
from pytest_llmserver.toolbench.builtin import builtin_tasks
from pytest_llmserver.toolbench.scoring import score_task
from pytest_llmserver.toolbench.task import AgentTask, PlannedCall, SolutionStep, _args
from pytest_llmserver.toolbench.tools.base import ToolState
from pytest_llmserver.toolbench.tools.execute import execute
from pytest_llmserver.toolbench.yamldoc import DocumentError, Node, Reader, load

VALIDATION_DIR = Path(__file__).with_name("validation")
VERDICTS = ("acceptable", "unacceptable")
CORPUS_MODEL = "corpus"
"""The model name corpus trajectories carry."""


class CorpusError(ValueError):
    """A corpus file cannot be used; the message is one line starting with ``file:line:``."""


@dataclass(frozen=True)
class CorpusEntry:
    """One hand-written trajectory of a task and the verdict a careful grader gives it."""

    task_id: str
    verdict: str
    why: str
    steps: tuple[SolutionStep, ...]
    source: str = ""

    @property
    def acceptable(self) -> bool:
        """True when a grader passes this entry."""
        return self.verdict == "acceptable"


@dataclass(frozen=True)
class Misjudgement:
    """An entry the scorer judged otherwise than the grader; ``reason`` is the scorer's."""

    entry: CorpusEntry
    reason: str

    def line(self) -> str:
        """One line: where, task, what went wrong, the grader's why and the scorer's reason."""
        entry = self.entry
        wrong = "acceptable failed" if entry.acceptable else "unacceptable passed"
        scorer = self.reason or "passed"
        return f"{entry.source}: {entry.task_id} {wrong}: {entry.why} -- scorer: {scorer}"


def _steps(reader: Reader, entry: Node, where: str, task: AgentTask) -> tuple[SolutionStep, ...]:
    known = {spec.name: spec for spec in task.catalog()}
    steps: list[SolutionStep] = []
    for i, node, line in reader.items(entry, "steps", where):
        sw = f"{where}.steps[{i}]"
        if steps and steps[-1].answer is not None:
            raise reader.error(line, f"{sw}: a step after the final answer")
        step = reader.mapping(node, sw, {"calls", "answer"}, line)
        if ("calls" in step) == ("answer" in step):
            raise reader.fail(step, None, f"{sw}: give either 'calls' or 'answer'")
        calls: list[PlannedCall] = []
        for j, c, at in reader.items(step, "calls", sw):
            cw = f"{sw}.calls[{j}]"
            call = reader.mapping(c, cw, {"name", "args"}, at)
            if "name" not in call:
                raise reader.fail(call, None, f"{cw}: missing field 'name'")
            name = reader.get(call, "name", str, cw)
            if resolve_tool_name(name, known) not in known:
                tools = ", ".join(known) or "none"
                raise reader.fail(
                    call, "name", f"{cw}: unknown tool '{name}' (task tools: {tools})"
                )
            calls.append(PlannedCall(name=name, args=_args(reader, call, cw)))
        if "calls" in step and not calls:
            raise reader.fail(step, "calls", f"{sw}: 'calls' is empty")
        steps.append(
            SolutionStep(calls=tuple(calls), answer=reader.opt(step, "answer", str, sw, None))
        )
    if not steps:
        raise reader.fail(entry, "steps" if "steps" in entry else None, f"{where}: no steps")
    if len(steps) > task.max_iterations:
        raise reader.fail(
            entry, "steps", f"{where}: {len(steps)} steps, the task allows {task.max_iterations}"
        )
    return tuple(steps)


def _entries(reader: Reader, data: Any, tasks: Mapping[str, AgentTask]) -> list[CorpusEntry]:
    root = reader.mapping(data, "the file", {"tasks"}, 1)
    if "tasks" not in root:
        raise reader.fail(root, None, "the file: missing field 'tasks'")
    by_task = reader.get(root, "tasks", dict, "the file")
    out: list[CorpusEntry] = []
    for task_id, node in by_task.items():
        line = reader.line(by_task, task_id)
        task = tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None:
            raise reader.error(line, f"unknown task id {str(task_id)[:80]!r}")
        verdicts = reader.mapping(node, f"task '{task_id}'", set(VERDICTS), line)
        for verdict in VERDICTS:
            vw = f"task '{task_id}'.{verdict}"
            for i, item, at in reader.items(verdicts, verdict, f"task '{task_id}'"):
                ew = f"{vw}[{i}]"
                entry = reader.mapping(item, ew, {"why", "steps"}, at)
                if "why" not in entry:
                    raise reader.fail(entry, None, f"{ew}: missing field 'why'")
                why = reader.get(entry, "why", str, ew).strip()
                if not why or "\n" in why:
                    raise reader.fail(entry, "why", f"{ew}: 'why' must be one non-empty line")
                steps = _steps(reader, entry, ew, task)
                if verdict == "acceptable" and steps[-1].answer is None:
                    raise reader.error(at, f"{ew}: an acceptable entry ends with an answer")
                out.append(CorpusEntry(task_id, verdict, why, steps, f"{reader.path}:{at}"))
    return out


def corpus_files(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files named by ``paths``; a directory stands for its ``*.yaml`` files, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return files


def load_corpus(
    paths: Iterable[str | Path], tasks: Iterable[AgentTask] | None = None
) -> list[CorpusEntry]:
    """Every entry of the corpus files (directories: their ``*.yaml``), checked against
    ``tasks`` (default: the built-in ones). Any problem is one ``CorpusError``."""
    by_id = {t.task_id: t for t in (builtin_tasks() if tasks is None else tasks)}
    entries: list[CorpusEntry] = []
    for path in corpus_files(paths):
        reader = Reader(str(path))
        try:
            entries.extend(_entries(reader, load(path), by_id))
        except DocumentError as exc:
            raise CorpusError(f"{reader.path}:{exc.line}: {exc.problem}") from None
    return entries


def trajectory_for(task: AgentTask, entry: CorpusEntry) -> Trajectory:
    """The trajectory of ``entry``: its calls run with the task's tools as the agent runs them
    (namespace prefixes stripped, arguments checked, one tool state for the run)."""
    known = {spec.name: spec for spec in task.catalog()}
    state = ToolState()
    trajectory = Trajectory(task_id=task.task_id, model=CORPUS_MODEL)
    if task.system_prompt:
        trajectory.messages.append({"role": "system", "content": task.system_prompt})
    trajectory.messages.append({"role": "user", "content": task.prompt})
    for index, step in enumerate(entry.steps):
        content = step.answer or ""
        trajectory.steps.append(
            StepRecord(
                index=index,
                latency_s=None,
                ttft_s=None,
                ttf_tool_call_s=None,
                output_tokens=0,
                finish_reason="stop" if step.answer is not None else "tool_calls",
                content=content,
                reasoning="",
                tool_calls=len(step.calls),
            )
        )
        trajectory.messages.append({"role": "assistant", "content": content})
        if step.answer is not None:
            trajectory.final_answer = step.answer.strip()
            trajectory.answered = True
            break
        for call in step.calls:
            name = resolve_tool_name(call.name, known)
            state.calls[name] += 1
            spec = known.get(name)
            args = dict(call.args)
            if spec is None:
                result = json.dumps({"error": f"unknown tool '{call.name}'"})
                is_error = True
            else:
                result, is_error = execute(spec, args, state)
            trajectory.calls.append(
                ToolCallRecord(
                    step=index,
                    name=name,
                    raw_name=call.name,
                    arguments=args,
                    arguments_raw=json.dumps(args, ensure_ascii=False),
                    arguments_error=None,
                    result=result,
                    is_error=is_error,
                    known_tool=spec is not None,
                    duration_s=0.0,
                )
            )
            trajectory.messages.append({"role": "tool", "name": name, "content": result})
    return trajectory


def judge(
    tasks: Iterable[AgentTask] | Mapping[str, AgentTask], entries: Sequence[CorpusEntry]
) -> list[Misjudgement]:
    """Every entry ``score_task`` judges otherwise than its verdict, in corpus order."""
    by_id = dict(tasks) if isinstance(tasks, Mapping) else {t.task_id: t for t in tasks}
    wrong: list[Misjudgement] = []
    for entry in entries:
        score = score_task(by_id[entry.task_id], trajectory_for(by_id[entry.task_id], entry))
        if score.passed != entry.acceptable:
            wrong.append(Misjudgement(entry, score.reason))
    return wrong


def summary(entries: Sequence[CorpusEntry], wrong: Sequence[Misjudgement]) -> str:
    """The count line: misjudgements of each kind, entries of each kind, tasks covered."""
    good = sum(1 for e in entries if e.acceptable)
    bad_passed = sum(1 for m in wrong if not m.entry.acceptable)
    tasks = len({e.task_id for e in entries})
    return (
        f"{len(wrong) - bad_passed} acceptable failed, {bad_passed} unacceptable passed, "
        f"of {good}+{len(entries) - good} entries over {tasks} tasks"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Judge the corpus files named in ``argv`` (default: the package's validation corpus)."""
    args = list(sys.argv[1:] if argv is None else argv) or [str(VALIDATION_DIR)]
    tasks = builtin_tasks()
    try:
        entries = load_corpus(args, tasks)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wrong = judge(tasks, entries)
    for misjudged in wrong:
        print(misjudged.line())
    print(summary(entries, wrong))
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
