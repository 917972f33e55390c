"""Live progress under pytest's capture: a run in a pseudo-terminal, without ``-s``, shows the
live lines of a stress mode and of the tool bench; ``-q`` and a pipe show none."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

RUN = (
    "--llm-server=sim",
    "-m",
    "throughput or (toolbench and quick)",
    "--llm-sweep=4",
    "--llm-total=8",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:randomly",
)
STRESS_LINE = "c4-n8: done "
BENCH_LINE = re.compile(r"tool bench \S+: done \d+/7 \| passed \d+ \| running \d+ \| \d+ s")
FINAL_BENCH_LINE = re.compile(r"tool bench \S+: done 7/7 \| passed \d+ \| running 0 ")
PASSED = re.compile(r"\b\d+ passed\b")


def _run(directory: Path, *args: str, terminal: bool) -> str:
    """The output of a pytest run in ``directory``, on a pseudo-terminal or a pipe."""
    command = [sys.executable, "-m", "pytest", *RUN, *args]
    env = {**os.environ, "COLUMNS": "120", "PY_COLORS": "0"}
    if not terminal:
        done = subprocess.run(
            command, cwd=directory, env=env, capture_output=True, text=True, timeout=120
        )
        return done.stdout + done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, cwd=directory, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        process.wait(timeout=30)
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text(INI)
    return tmp_path


def test_progress_reaches_a_terminal_through_capture(suite_dir: Path) -> None:
    output = _run(suite_dir, terminal=True)
    assert PASSED.search(output), output[-2000:]
    assert STRESS_LINE in output, output[-2000:]
    assert BENCH_LINE.search(output), output[-2000:]
    assert FINAL_BENCH_LINE.search(output), output[-2000:]


def test_no_progress_under_quiet_or_on_a_pipe(suite_dir: Path) -> None:
    quiet = _run(suite_dir, "-q", terminal=True)
    piped = _run(suite_dir, terminal=False)
    for output in (quiet, piped):
        assert PASSED.search(output), output[-2000:]
        assert STRESS_LINE not in output
        assert not BENCH_LINE.search(output)
