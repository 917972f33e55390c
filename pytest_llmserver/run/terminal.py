"""The terminal summary at the end of a run, from the recorded entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pytest_llmserver.run.recorder import RunRecorder
from pytest_llmserver.stress import bottleneck_line


class Terminal(Protocol):
    """What the summary writes to (pytest's ``TerminalReporter`` is one)."""

    def section(self, title: str, sep: str = "=", **markup: bool) -> None: ...

    def write_line(self, line: str, **markup: bool) -> None: ...


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.1f} ms"


class _Redacted:
    """A terminal that passes every line through the run's redaction first."""

    def __init__(self, terminal: Terminal, redact: Callable[[str], str]) -> None:
        self._terminal = terminal
        self._redact = redact

    def section(self, title: str, sep: str = "=", **markup: bool) -> None:
        self._terminal.section(self._redact(title), sep, **markup)

    def write_line(self, line: str, **markup: bool) -> None:
        self._terminal.write_line(self._redact(line), **markup)


def display(recorder: RunRecorder, terminal: Terminal) -> None:
    """Stress rows (each with its bottleneck line when the run could not keep its
    schedule), tool-bench pass rates, the comparison with the baseline, errors and where
    the run summary is (only when it was written); every line redacted."""
    terminal = _Redacted(terminal, recorder.redactor.text)
    results = recorder.results
    for model in sorted({e.model for e in results.stress}):
        terminal.section(f"stress: {model}")
        for entry in (e for e in results.stress if e.model == model):
            rps = entry.rate("requests_per_s")
            terminal.write_line(
                f"{entry.mode:<15} {entry.id:<22} ok {entry.ok:>5} failed {entry.failed:>4}  "
                f"req/s {'-' if rps is None else f'{rps:.2f}':>7}  "
                f"TTFT p50 {_ms(entry.metric('ttft_s', 'p50')):>10}  "
                f"{recorder.run_dir / entry.report}"
            )
            bottleneck = bottleneck_line(entry.figures, entry.params)
            if bottleneck:
                terminal.write_line(f"  {bottleneck}", yellow=True)
    for bench in results.toolbench:
        terminal.section(f"tool bench: {bench.model}")
        for row in bench.summary:
            terminal.write_line(
                f"{row['tier']:<10} {row['tasks']:>3} tasks  pass@1 {row['pass_at_1']:6.1%}  "
                f"pass^{bench.repeat} {row['pass_all']:6.1%}"
            )
        terminal.write_line(f"wall time {bench.wall_s:.2f} s, concurrency {bench.concurrency}")
        shown = ", ".join(str(recorder.run_dir / r) for r in bench.reports)
        terminal.write_line(f"report: {shown}")
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
