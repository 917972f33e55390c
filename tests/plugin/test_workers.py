"""``--llm-workers``: a sustained run split over worker processes gives one merged report;
an interrupted one still reports what the processes finished. Real pytest runs against the
simulator."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.stress import read_records, summarize_records
from tests.plugin.test_interrupts import check_summary, run_dir, start, stop, wait_for


def _worker_files(run: Path) -> list[Path]:
    return sorted(run.glob("stress-sustained-*-w*of2.jsonl"))


def test_two_workers_give_one_merged_report(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest_subprocess(
        "--llm-server=sim",
        "-m",
        "sustained",
        "--llm-rpm=1200",
        "--llm-duration=1",
        "--llm-workers=2",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1)
    run = (llm_pytester.path / "logs" / "latest").resolve()
    doc: dict[str, Any] = json.loads((run / "results.json").read_text())
    [entry] = doc["stress"]
    assert entry["params"]["workers"] == 2
    parts = _worker_files(run)
    assert len(parts) == 2
    every = [r for part in parts for r in read_records(part)]
    merged = list(read_records(run / entry["records"]))
    assert len(merged) == len(every)
    assert {r["worker"] for r in merged} == {0, 1}
    measured = [r for r in every if not r.get("warmup")]
    assert sorted(int(r["index"]) for r in measured) == list(range(20))  # 20/s for 1 s
    expected = summarize_records(every).to_dict()
    assert entry["summary"]["metrics"] == expected["metrics"]
    assert entry["summary"]["ok"] == expected["ok"] == 20
    assert entry["figures"]["scheduled"] == 20
    assert (run / entry["report"]).is_file()


def test_an_interrupted_two_worker_run_writes_a_partial_report(tmp_path: Path) -> None:
    proc = start(
        tmp_path, "-m", "sustained", "--llm-rpm=900", "--llm-duration=60", "--llm-workers=2"
    )

    def enough() -> bool:
        latest = tmp_path / "logs" / "latest"
        files = _worker_files(latest.resolve()) if latest.exists() else []
        return len(files) == 2 and all(len(list(read_records(f))) >= 5 for f in files)

    wait_for(enough)
    out = stop(proc, signal.SIGINT)
    run = run_dir(tmp_path)
    doc = check_summary(run, out)
    [entry] = doc["stress"]
    assert entry["params"]["workers"] == 2
    assert entry["interrupted"] is True
    every = [r for part in _worker_files(run) for r in read_records(part)]
    merged = list(read_records(run / entry["records"]))
    assert len(merged) == len(every) >= 10
    assert {r["error_class"] for r in merged if r.get("error_class")} <= {"cancelled"}
    assert (run / entry["report"]).is_file()


def test_a_rate_beyond_the_calibrated_capacity_is_warned_and_the_bottleneck_named(
    llm_pytester: pytest.Pytester,
) -> None:
    result = llm_pytester.runpytest(
        "--llm-server=sim",
        "-m",
        "sustained",
        "--llm-rpm=6000000",
        "--llm-duration=0.5",
        "--llm-workers=1",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1)
    # 64 slots of ~0.2 s requests carry ~300 req/s, so the slots are a limit; a loaded machine
    # may make the client one as well: either way the line names the bottleneck first
    limit = r"(client-bound: the client could not keep|in-flight cap reached: \d+ of)"
    result.stdout.re_match_lines(
        [
            r"WARNING: requested rate 100,000\.0 req/s is beyond the calibrated client capacity",
            r".*stress: ",
            r"sustained ",
            rf"  {limit} ",
        ]
    )
    run = (llm_pytester.path / "logs" / "latest").resolve()
    doc: dict[str, Any] = json.loads((run / "results.json").read_text())
    [entry] = doc["stress"]
    assert re.match(limit, entry["notes"][0])
    beyond = "requested rate 100,000.0 req/s is beyond"
    assert any(note.startswith(beyond) for note in entry["notes"][1:]), entry["notes"]
    assert entry["figures"]["shed_behind"] + entry["figures"]["shed_full"] > 0
    report = (run / entry["report"]).read_text()
    assert re.match(rf"\*\*{limit}", report.splitlines()[2])
