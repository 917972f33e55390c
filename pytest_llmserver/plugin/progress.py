"""Live progress under pytest's capture, and pytest-benchmark's tables kept out of the way.

Progress goes through pytest's terminal reporter with capture suspended for the write, so a
run without ``-s`` shows it; it is shown only on a terminal, never under ``-q`` nor on an
xdist worker. Light on purpose: pytest's start-up imports this module."""

from __future__ import annotations

import os
import shlex

import pytest

from pytest_llmserver._util import ProgressLine
from pytest_llmserver.plugin.state import worker_id

BENCHMARK_PREFIX = "--benchmark"


class ReporterStream:
    """A write-only stream into pytest's terminal reporter that suspends capture for each
    write; the first write starts a fresh line so pytest's own line is kept."""

    def __init__(self, config: pytest.Config) -> None:
        self._reporter = config.pluginmanager.get_plugin("terminalreporter")
        self._capture = config.pluginmanager.get_plugin("capturemanager")
        self._started = False

    @property
    def is_terminal(self) -> bool:
        """True when the reporter writes to a terminal."""
        return self._reporter is not None and bool(self._reporter.isatty())

    def write(self, text: str) -> int:
        if self._reporter is None:
            return 0
        if self._capture is None:
            self._put(text)
        else:
            with self._capture.global_and_fixture_disabled():
                self._put(text)
        return len(text)

    def _put(self, text: str) -> None:
        assert self._reporter is not None
        if not self._started:
            self._reporter.ensure_newline()
            self._started = True
        self._reporter.write(text, flush=True)

    def flush(self) -> None:
        """Every write is flushed already."""


def progress_line(config: pytest.Config, min_interval_s: float = 0.5) -> ProgressLine:
    """A live line through pytest's reporter: enabled on a terminal, not under ``-q``, not on
    an xdist worker."""
    stream = ReporterStream(config)
    enabled = stream.is_terminal and config.get_verbosity() >= 0 and worker_id(config) is None
    return ProgressLine(stream, enabled=enabled, min_interval_s=min_interval_s)


def _given_args(config: pytest.Config) -> list[str]:
    """The arguments of this invocation, ``PYTEST_ADDOPTS`` and the ini's ``addopts``."""
    args = [str(a) for a in config.invocation_params.args]
    args += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    addopts = config.getini("addopts")
    args += addopts if isinstance(addopts, list) else shlex.split(str(addopts))
    return args


def quiet_benchmark_tables(config: pytest.Config) -> None:
    """Turn pytest-benchmark's tables off (its ``--benchmark-quiet``) unless some
    ``--benchmark-*`` option was given: stress tests feed it rounds, and the run's own summary
    already shows their figures. Called before pytest-benchmark reads its options."""
    if not config.pluginmanager.hasplugin("benchmark"):
        return
    if any(arg.startswith(BENCHMARK_PREFIX) for arg in _given_args(config)):
        return
    if hasattr(config.option, "benchmark_quiet"):
        config.option.benchmark_quiet = True
