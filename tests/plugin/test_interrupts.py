"""A run stopped by SIGINT or SIGTERM keeps what finished: in-flight requests are recorded as
cancelled, and results.json, summary.md and the reports are still written (marked interrupted),
linking only to files that exist. Real pytest subprocesses against the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.stress import read_records

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    (tmp_path / "pytest.ini").write_text(INI, encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "--llm-server=sim", "-p", "no:cacheprovider", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def wait_for(condition: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the run never reached the point to interrupt it")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[str], signum: int) -> str:
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    return out


def run_dir(tmp_path: Path) -> Path:
    return (tmp_path / "logs" / "latest").resolve()


def records_of(tmp_path: Path) -> list[Path]:
    logs = tmp_path / "logs"
    return sorted(logs.glob("*/stress-sustained-*.jsonl")) if logs.is_dir() else []


def measured(path: Path) -> list[dict[str, Any]]:
    return [r for r in read_records(path) if not r.get("warmup")]


def check_summary(run: Path, out: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run / "results.json").read_text())
    assert doc["interrupted"] is True
    summary = (run / "summary.md").read_text()
    assert summary.splitlines()[2].startswith("**interrupted")
    for target in _links(summary):
        assert (run / target).is_file(), f"summary.md links {target}, which was not written"
    assert f"run summary: logs/{run.name}/summary.md" in out
    return doc


def _links(markdown: str) -> list[str]:
    found = []
    for part in markdown.split("](")[1:]:
        target = part.split(")", 1)[0]
        if "://" not in target:
            found.append(target)
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_stress_run_keeps_every_request(tmp_path: Path, signum: int) -> None:
    proc = start(tmp_path, "-m", "sustained", "--llm-rpm=900", "--llm-duration=60")
    wait_for(lambda: bool(records_of(tmp_path)) and len(measured(records_of(tmp_path)[0])) >= 20)
    out = stop(proc, signum)
    run = run_dir(tmp_path)
    doc = check_summary(run, out)
    [entry] = doc["stress"]
    records = measured(run / entry["records"])
    summary = entry["summary"]
    assert summary["ok"] + summary["failed"] == len(records) >= 20
    assert summary["failed"] == sum(1 for r in records if r["error_class"])
    assert {r["error_class"] for r in records if r["error_class"]} <= {"cancelled"}
    assert any("interrupted" in note for note in entry["notes"])
    assert (run / entry["report"]).is_file()


def test_an_interrupted_tool_bench_reports_the_tasks_that_finished(tmp_path: Path) -> None:
    # The oracle at a third of the simulator's speed, one task at a time: about 40 s in all.
    proc = start(
        tmp_path,
        "-m",
        "toolbench",
        "--llm-model=oracle",
        "--llm-concurrency=1",
        "--llm-sim-slowdown=3",
    )
    time.sleep(8.0)
    out = stop(proc, signal.SIGINT)
    run = run_dir(tmp_path)
    doc = check_summary(run, out)
    [bench] = doc["toolbench"]
    assert 0 < len(bench["tasks"]) < 45
    assert all(t["passed_all"] for t in bench["tasks"])  # the oracle passes what it finished
    assert (run / "toolbench.md").is_file()
