"""The terminal summary at the end of a run, from the recorded entries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pytest_llmserver.run.recorder import RunRecorder
from pytest_llmserver.run.tables import (
    aligned,
    arena_lines,
    cross_model_lines,
    fmt_s,
    stress_header,
    stress_row,
)
from pytest_llmserver.stress import bottleneck_line


class Terminal(Protocol):
    """What the summary writes to (pytest's ``TerminalReporter`` is one)."""

    def section(self, title: str, sep: str = "=", **markup: bool) -> None: ...

    def write_line(self, line: str, **markup: bool) -> None: ...


class _Redacted:
    """A terminal that passes every line through the run's redaction first."""

    def __init__(self, terminal: Terminal, redact: Callable[[str], str]) -> None:
        self._terminal = terminal
        self._redact = redact

    def section(self, title: str, sep: str = "=", **markup: bool) -> None:
        self._terminal.section(self._redact(title), sep, **markup)

    def write_line(self, line: str, **markup: bool) -> None:
        self._terminal.write_line(self._redact(line), **markup)


TERMINAL_NOTES = ("warning: ", "prefix cache: ")
"""Report notes a stress row also gets on the terminal: lengths off, an unasked cache hit."""


def display(recorder: RunRecorder, terminal: Terminal) -> None:
    """Per model, a table of its stress tests (each with its bottleneck line when the run
    could not keep its schedule, and its warnings), tool-bench pass rates by tier, arena
    leaderboards, the cross-model table when several models ran, the comparison with the
    baseline, errors and where the run summary is (only when it was written); every line
    redacted."""
    terminal = _Redacted(terminal, recorder.redactor.text)
    results = recorder.results
    for model in sorted({e.model for e in results.stress}):
        terminal.section(f"stress: {model}")
        entries = [e for e in results.stress if e.model == model]
        header, *rows = aligned(stress_header(entries), [stress_row(e) for e in entries])
        terminal.write_line(header)
        for entry, line in zip(entries, rows, strict=True):
            terminal.write_line(line)
            bottleneck = bottleneck_line(entry.figures, entry.params)
            if bottleneck:
                terminal.write_line(f"  {bottleneck}", yellow=True)
            for note in entry.notes:
                if note.startswith(TERMINAL_NOTES):
                    terminal.write_line(f"  {note}", yellow=True)
        shown = ", ".join(Path(e.report).name for e in entries if e.report)
        if shown:
            terminal.write_line(f"reports in {recorder.run_dir}: {shown}")
    for bench in results.toolbench:
        terminal.section(f"tool bench: {bench.model}")
        partial = {row["tier"]: row["partial"] for row in bench.partial_credit}
        for row in bench.summary:
            interval = ""
            if row.get("pass_at_1_low") is not None:  # K > 1: its bootstrap interval
                interval = f" ({row['pass_at_1_low']:.1%}..{row['pass_at_1_high']:.1%})"
            credit = partial.get(row["tier"])
            terminal.write_line(
                f"{row['tier']:<10} {row['tasks']:>3} tasks  pass@1 {row['pass_at_1']:6.1%}"
                f"{interval}  pass^{bench.repeat} {row['pass_all']:6.1%}"
                + ("" if credit is None else f"  partial {credit:6.1%}")
            )
        failed = len(bench.failed_tasks)
        terminal.write_line(
            f"{len(bench.tasks) - failed} of {len(bench.tasks)} tasks passed every trial; "
            f"wall time {fmt_s(bench.wall_s)}, concurrency {bench.concurrency}"
        )
        shown = ", ".join(str(recorder.run_dir / r) for r in bench.reports)
        terminal.write_line(f"report: {shown}")
    for arena in results.arenas:
        terminal.section(f"arena: {arena.kind} (judge {arena.judge_model})")
        for line in arena_lines(arena):
            terminal.write_line(line)
        for warning in arena.warnings:
            terminal.write_line(f"warning: {warning}", yellow=True)
    compared = cross_model_lines(results.stress, results.toolbench)
    if compared:
        terminal.section("models compared")
        for line in compared:
            terminal.write_line(line)
    _comparison(recorder, terminal)


def _comparison(recorder: RunRecorder, terminal: Terminal) -> None:
    gate = recorder.gate
    if gate.wanted is not None:
        terminal.section("compared with the baseline")
        for update in gate.model_updates:
            terminal.write_line(f"model updated: {update}", yellow=True, bold=True)
        for line in gate.comparison_lines:
            terminal.write_line(line)
        for line in gate.regressions:
            terminal.write_line(f"REGRESSION {line}", red=True)
    for error in recorder.results.errors:
        terminal.write_line(f"ERROR: {error}", red=True)
    for path in recorder.saved_baselines:
        terminal.write_line(f"baseline saved: {path}")
    if recorder.results.run_id and (recorder.run_dir / "summary.md").is_file():
        terminal.write_line(f"run summary: {recorder.run_dir / 'summary.md'}")
