"""The tool-bench report: ``toolbench.md`` for people, ``toolbench.json`` with every trajectory."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pytest_llmserver._util import Redactor, fmt_value, md_cell, md_table
from pytest_llmserver.toolbench.partial import PartialRow
from pytest_llmserver.toolbench.runner import RepeatedTierSummary, TaskResult, ToolbenchRun
from pytest_llmserver.toolbench.tiers import difficulty_factors
from pytest_llmserver.toolbench.variance import CI_METHOD, CONFIDENCE, pair_disagreement

JSON_SCHEMA_VERSION = 1

_TIER_ALIGN = ("---", "---:", "---:", "---:")
_TASK_HEADER = (
    "task",
    "tier",
    "pass",
    "iterations",
    "calls",
    "tool use",
    "no forbidden",
    "answer",
    "time s",
    "reason",
)
_TASK_ALIGN = ("---", "---", "---", "---:", "---:", "---", "---", "---", "---:", "---")
_DIAGNOSTICS_HEADER = (
    "malformed arguments",
    "unknown tools",
    "empty responses",
    "tool calls written as text",
)


def _flag(value: bool) -> str:
    return "yes" if value else "NO"


def render_markdown(run: ToolbenchRun) -> str:
    """The report as markdown: summary by tier, per-task table (failures first), diagnostics."""
    lines = [
        f"# Tool bench: {run.model}",
        "",
        f"Server {run.server_url} · {len(run.results)} tasks · {run.repeat} trial(s) each · "
        f"concurrency {run.concurrency} · wall time {run.wall_s:.2f} s",
        "",
    ]
    if run.sent:
        sent = " · ".join(
            f"{key} {'none' if value is None else fmt_value(value)}"
            for key, value in run.sent.items()
        )
        lines += [f"Sent with every turn: {sent} (none: not sent)", ""]
    lines += [f"Note: {note}" for note in run.notes] + ([""] if run.notes else [])
    lines += md_table(
        ["tier", "tasks", "pass@1", f"pass^{run.repeat}"],
        [
            [row.tier, row.tasks, f"{row.pass_at_1:.1%}", f"{row.pass_all:.1%}"]
            for row in run.summaries()
        ],
        align=_TIER_ALIGN,
    )
    lines += variance_lines(run)
    partial = run.partial_summary()
    if partial:
        lines += ["", "## Partial credit (share of checks passed)", ""]
        lines += md_table(
            ["tier", "tasks", "partial", *_PARTIAL_GROUPS],
            [_partial_row(row) for row in partial],
            align=("---", "---:", "---:", *("---:",) * len(_PARTIAL_GROUPS)),
        )
    lines += ["", "## Tasks", ""]
    ordered = sorted(run.results.values(), key=lambda r: (r.passed_all, r.task.task_id))
    lines += md_table(_TASK_HEADER, [_task_row(result) for result in ordered], align=_TASK_ALIGN)
    d = run.diagnostics()
    lines += ["", "## Model diagnostics", ""]
    lines += md_table(
        _DIAGNOSTICS_HEADER,
        [[d.malformed_args, d.unknown_tools, d.empty_responses, d.text_tool_calls]],
        align=("---:",) * len(_DIAGNOSTICS_HEADER),
    )
    errors = [
        (r.task.task_id, t.error_class, t.error)
        for r in run.results.values()
        for t, _ in r.trials
        if t.error
    ]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- `{task_id}` ({kind}): {md_cell(str(text))}" for task_id, kind, text in errors]
    return "\n".join(lines) + "\n"


def variance_lines(run: ToolbenchRun) -> list[str]:
    """The ``Variance`` section of a run with more than one trial per task (else nothing):
    pass@1 with its interval, pass^k for each k, the flip rate, and the flaky tasks."""
    rows = [row for row in run.summaries() if isinstance(row, RepeatedTierSummary)]
    if not rows:
        return []
    ks = sorted({int(k) for row in rows for k in row.pass_hat})
    lines = ["", f"## Variance over {run.repeat} trials per task", ""]
    lines += md_table(
        [
            "tier",
            "tasks",
            "trials",
            "pass@1",
            f"{CONFIDENCE:.0%} interval",
            *(f"pass^{k}" for k in ks),
            "flip rate",
            "pairs disagreeing",
        ],
        [
            [
                row.tier,
                row.tasks,
                row.trials,
                f"{row.pass_at_1:.1%}",
                f"{row.pass_at_1_low:.1%}..{row.pass_at_1_high:.1%}",
                *(_percent(row.pass_hat.get(str(k))) for k in ks),
                f"{row.flip_rate:.1%}",
                f"{row.pair_disagreement:.1%}",
            ]
            for row in rows
        ],
        align=("---", *("---:",) * (6 + len(ks))),
    )
    lines += [
        "",
        f"Interval: {CI_METHOD}. pass^k: the unbiased estimate, mean over tasks of "
        "C(passes, k) / C(trials, k). Flip rate: share of tasks whose trials disagree.",
    ]
    flaky = [r for r in run.results.values() if 0 < r.passes < len(r.trials)]
    if flaky:
        lines += ["", "Flaky tasks (mixed outcomes):", ""]
        lines += [
            f"- `{r.task.task_id}` ({r.task.tier}): {r.passes}/{len(r.trials)} passed "
            f"({''.join('P' if p else 'F' for p in r.trial_passed())}), "
            f"{pair_disagreement(r.passes, len(r.trials)):.0%} of trial pairs disagree"
            for r in sorted(flaky, key=lambda r: r.task.task_id)
        ]
    return lines


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


_PARTIAL_GROUPS = ("tools", "arguments", "answer", "safety")


def _partial_row(row: PartialRow) -> list[object]:
    shares = [f"{row.groups[g]:.1%}" if g in row.groups else "" for g in _PARTIAL_GROUPS]
    return [row.tier, row.tasks, f"{row.partial:.1%}", *shares]


def _task_row(result: TaskResult) -> list[object]:
    trials = result.trials
    task = result.task
    if not trials:
        return [task.task_id, task.tier, "not run", "", "", "", "", "", "", ""]
    score = next((s for _, s in trials if not s.passed), trials[0][1])
    return [
        task.task_id,
        task.tier,
        f"{result.passes}/{len(trials)}",
        score.iterations,
        score.tool_calls,
        _flag(score.tool_use_ok),
        _flag(score.no_forbidden),
        _flag(score.answer_ok),
        f"{score.wall_s:.2f}",
        score.reason,
    ]


def to_json(run: ToolbenchRun) -> dict[str, Any]:
    """Everything, trajectories included."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "model": run.model,
        "server_url": run.server_url,
        "repeat": run.repeat,
        "concurrency": run.concurrency,
        "wall_s": run.wall_s,
        "sent": run.sent,
        "notes": run.notes,
        "summary": [asdict(row) for row in run.summaries()],
        "partial_credit": [row.to_dict() for row in run.partial_summary()],
        "diagnostics": asdict(run.diagnostics()),
        "tasks": [
            {
                "task_id": r.task.task_id,
                "tier": r.task.tier,
                "capabilities": list(r.task.capabilities),
                "difficulty_factors": difficulty_factors(r.task).to_dict(),
                "pass_at_1": r.pass_at_1,
                "passed_all": r.passed_all,
                "trials": [
                    {"score": score.to_dict(), "trajectory": trajectory.to_dict()}
                    | _trial_of(r, index, run.repeat)
                    for index, (trajectory, score) in enumerate(r.trials)
                ],
            }
            for r in run.results.values()
        ],
    }


def _trial_of(result: TaskResult, index: int, repeat: int) -> dict[str, Any]:
    """The trial number and sampling seed of ``result.trials[index]`` (nothing when K=1)."""
    if repeat <= 1 or index >= min(len(result.trial_numbers), len(result.trial_seeds)):
        return {}
    return {"trial": result.trial_numbers[index], "seed": result.trial_seeds[index]}


def write_report(
    run: ToolbenchRun,
    directory: Path,
    extra_lines: Sequence[str] = (),
    name: str = "toolbench",
    *,
    redactor: Redactor | None = None,
) -> tuple[Path, Path]:
    """Write ``<name>.md`` (with ``extra_lines`` appended) and ``<name>.json``; with a
    ``redactor``, both redacted (e.g. an API key a server echoed into an error)."""
    directory.mkdir(parents=True, exist_ok=True)
    md_path = directory / f"{name}.md"
    json_path = directory / f"{name}.json"
    text = render_markdown(run)
    if extra_lines:
        text += "\n" + "\n".join(extra_lines).rstrip("\n") + "\n"
    data = to_json(run)
    if redactor is not None:
        text, data = redactor.text(text), redactor.scrub(data)
    md_path.write_text(text, encoding="utf-8")
    json_path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    return md_path, json_path
