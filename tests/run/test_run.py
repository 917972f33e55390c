"""The run as a whole: results.json, summary.md, run log, baselines and the regression gate,
JUnit properties, pytest-benchmark rounds and xdist, all against the simulator."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.gate.baseline import BaselineError, load_baseline
from pytest_llmserver.report.results import SCHEMA

# A quick stress test: 16 requests, 8 at a time, on the simulator (about 0.5 s).
BURST = (
    "--llm-server=sim",
    "-m",
    "throughput",
    "--llm-sweep=8",
    "--llm-total=16",
    "-p",
    "no:cacheprovider",
)
QUICK_TOOLS = ("--llm-server=sim", "-m", "toolbench and quick", "-p", "no:cacheprovider")


def _results(pytester: pytest.Pytester) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (pytester.path / "logs" / "latest" / "results.json").read_text()
    )
    return doc


def test_results_json_summary_and_log(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest(*BURST, "--llm-api-key=sk-test-not-a-real-key-12345")
    result.assert_outcomes(passed=1)
    run = llm_pytester.path / "logs" / "latest"
    doc = _results(llm_pytester)
    assert (doc["schema"], doc["schema_version"]) == (SCHEMA, 1)
    assert doc["run_id"] == run.resolve().name
    assert doc["settings"]["api_key"] == "set"
    assert doc["host"]["cpu_count"] >= 1
    [target] = doc["targets"]
    assert target["fingerprint"]["kind"] == "ollama"
    assert target["fingerprint"]["digest"]
    [entry] = doc["stress"]
    assert (entry["mode"], entry["id"], entry["summary"]["ok"]) == ("throughput", "c8-n16", 16)
    assert (run / entry["records"]).is_file()
    assert (run / entry["report"]).is_file()
    assert [Path(c).name for c in entry["charts"]] == [
        "stress-throughput-c8-n16-latency.png",
        "stress-throughput-c8-n16-distributions.png",
        "stress-throughput-c8-n16-server.png",  # the simulator's own /metrics over the run
    ]
    summary = (run / "summary.md").read_text()
    assert "| throughput | c8-n16 | oracle | 16 | 0 |" in summary
    assert "[stress-throughput-c8-n16.md](stress-throughput-c8-n16.md)" in summary
    report = (run / entry["report"]).read_text()
    assert "![Latency over time](stress-throughput-c8-n16-latency.png)" in report
    log = (run / "run.log").read_text()
    assert "throughput c8-n16 [oracle]: ok=16 failed=0" in log
    assert "sk-test" not in json.dumps(doc) + log + summary
    result.stdout.fnmatch_lines([f"run summary: logs/{doc['run_id']}/summary.md"])


# --- baselines and the gate -------------------------------------------------------------------


def test_unchanged_server_passes_its_baseline_repeatedly(llm_pytester: pytest.Pytester) -> None:
    saved = llm_pytester.runpytest(*BURST, "--llm-save-baseline")
    saved.assert_outcomes(passed=1)
    path = llm_pytester.path / "llm-baselines" / "ollama--oracle.json"
    saved.stdout.fnmatch_lines([f"baseline saved: {path}"])
    assert len(load_baseline(path).stress[("throughput", "c8-n16")]["samples"]["ttft_s"]) == 16
    for _ in range(3):
        again = llm_pytester.runpytest(*BURST, "--llm-baseline=auto")
        assert again.ret == 0, _results(llm_pytester)["comparison"]
        again.stdout.fnmatch_lines(["throughput c8-n16: 6 unchanged metric(s)"])
        assert _results(llm_pytester)["comparison"]["regressions"] == []


@pytest.mark.timing
def test_thirty_percent_slower_fails_naming_ttft(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.runpytest(*BURST, "--llm-save-baseline").assert_outcomes(passed=1)
    slow = llm_pytester.runpytest(*BURST, "--llm-baseline=auto", "--llm-sim-slowdown=1.3")
    assert slow.ret == pytest.ExitCode.TESTS_FAILED
    slow.assert_outcomes(failed=1)
    slow.stdout.fnmatch_lines(
        [
            "*regression against the baseline: ttft_s p50: * ms -> * ms (+*%, 95% CI *",
            "REGRESSION throughput c8-n16: ttft_s p50: *: regression (limit +20% and 5.0 ms)",
        ]
    )
    doc = _results(llm_pytester)
    assert any(
        line.startswith("throughput c8-n16: ttft_s p50")
        for line in doc["comparison"]["regressions"]
    )
    statuses = {(c["metric"], c["statistic"]): c["status"] for c in doc["stress"][0]["comparison"]}
    assert statuses[("ttft_s", "p50")] == "regression"
    assert statuses[("e2e_s", "p95")] == "regression"


def test_tool_bench_transitions_and_model_update(llm_pytester: pytest.Pytester) -> None:
    oracle = llm_pytester.path / "oracle.json"
    llm_pytester.runpytest(
        *QUICK_TOOLS, "--llm-model=oracle", f"--llm-save-baseline={oracle}"
    ).assert_outcomes(passed=7)
    # Another model against the oracle's baseline: every failure is a new one.
    other = llm_pytester.runpytest(
        *QUICK_TOOLS, "--llm-model=bad-no-tools", f"--llm-baseline={oracle}"
    )
    other.assert_outcomes(failed=7)
    other.stdout.fnmatch_lines(
        [
            "*Q01_weather_oslo: new failure, passed in the baseline: no tool was called",
            "model updated: ollama oracle @ * → ollama bad-no-tools @ *",
            "REGRESSION tool bench [[]bad-no-tools[]]: pass rate: 100.0% of 7 -> 0.0% of 7 *",
        ]
    )
    assert (
        "model updated: ollama oracle" in (llm_pytester.path / "logs/latest/summary.md").read_text()
    )
    # The same model against its own failing baseline: known failures, the run is green.
    own = llm_pytester.path / "bad.json"
    llm_pytester.runpytest(*QUICK_TOOLS, "--llm-model=bad-no-tools", f"--llm-save-baseline={own}")
    known = llm_pytester.runpytest(
        *QUICK_TOOLS, "--llm-model=bad-no-tools", f"--llm-baseline={own}", "-rx"
    )
    assert known.ret == 0
    known.assert_outcomes(xfailed=7)
    known.stdout.fnmatch_lines(
        ["XFAIL*Q01_weather_oslo: known failure, failed in the baseline too*"]
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "baseline * does not exist (save one with --llm-save-baseline)"),
        ("{oops", "baseline * is not valid JSON*"),
        ('{"schema": "something-else"}', "baseline * is not a pytest-llmserver baseline file"),
        (
            '{"schema": "pytest-llmserver/baseline", "schema_version": 0}',
            "baseline * has schema version 0; this version reads 1 (save a new baseline)",
        ),
    ],
)
def test_unusable_baseline_is_a_clear_error_and_results_are_kept(
    llm_pytester: pytest.Pytester, content: str | None, message: str
) -> None:
    path = llm_pytester.path / "base.json"
    if content is not None:
        path.write_text(content)
    result = llm_pytester.runpytest(*BURST, f"--llm-baseline={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines([f"ERROR: {message}"])
    doc = _results(llm_pytester)
    assert doc["stress"][0]["summary"]["ok"] == 16  # the run itself is still written
    assert len(doc["errors"]) == 1
    with pytest.raises(BaselineError):
        load_baseline(path)


# --- JUnit, pytest-benchmark --------------------------------------------------------------------


def test_junit_properties_and_benchmark_rounds(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest(*BURST, "--junitxml=junit.xml", "--benchmark-json=bench.json")
    result.assert_outcomes(passed=1)
    tree = ET.parse(llm_pytester.path / "junit.xml")
    props = {p.get("name"): p.get("value") for p in tree.iter("property")}
    assert props["ok"] == "16"
    assert props["llm_model"] == "oracle"
    ttft_s_p50 = props["ttft_s_p50"]
    assert ttft_s_p50 is not None
    assert 0.04 < float(ttft_s_p50) < 0.2
    bench = json.loads((llm_pytester.path / "bench.json").read_text())
    [entry] = bench["benchmarks"]
    assert entry["group"] == "llm throughput"
    assert entry["stats"]["rounds"] == 16  # one round per request, our measured E2E
    e2e_p50 = _results(llm_pytester)["stress"][0]["summary"]["metrics"]["e2e_s"]["p50"]
    assert entry["stats"]["median"] == pytest.approx(e2e_p50)


def test_benchmark_skip_does_not_skip_stress_tests(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.runpytest(*BURST, "--benchmark-skip").assert_outcomes(passed=1)


# --- xdist ----------------------------------------------------------------------------------------


def test_xdist_workers_make_one_merged_run(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest_subprocess(
        "--llm-server=sim",
        "-m",
        "throughput or consistency or (toolbench and quick)",
        "--llm-sweep=2,4",
        "--llm-total=8",
        "--llm-model=oracle",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=10)
    runs = [p for p in (llm_pytester.path / "logs").iterdir() if p.name != "latest"]
    assert len(runs) == 1  # workers wrote into the controller's run directory
    doc = _results(llm_pytester)
    assert sorted((e["mode"], e["id"]) for e in doc["stress"]) == [
        ("consistency", "n8"),
        ("throughput", "c2-n8"),
        ("throughput", "c4-n8"),
    ]
    assert sum(e["summary"]["ok"] for e in doc["stress"]) == 24
    [bench] = doc["toolbench"]
    assert len(bench["tasks"]) == 7
    assert bench["summary"][-1] == {"tier": "all", "tasks": 7, "pass_at_1": 1.0, "pass_all": 1.0}
    assert bench["partial_credit"][-1]["tier"] == "all"  # merged from the workers' tasks
    assert bench["partial_credit"][-1]["partial"] == 1.0  # the oracle passes every check
    assert all(t["partial"] == 1.0 for t in bench["tasks"])
    assert all((runs[0] / report).is_file() for report in bench["report"])
    assert doc["charts"][0]["path"] == "throughput-sweep.png"  # two concurrency points


def test_shards_run_together_and_merge(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest_subprocess(
        "--llm-server=sim",
        "-m",
        "throughput",
        "--llm-sweep=4",
        "--llm-total=16",
        "--llm-shards=2",
        "--llm-workers=2",
        "--llm-meeting-host=127.0.0.2",  # the shards meet there
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=2)
    doc = _results(llm_pytester)
    [merged] = doc["stress"]
    unused = "--llm-workers=2 is not used: --llm-shards=2 splits the load over xdist workers"
    assert any(note.startswith(unused) for note in merged["notes"]), merged["notes"]
    assert (merged["id"], merged["params"]["shards"]) == ("c4-n16", 2)
    assert merged["summary"]["ok"] == 16  # 8 + 8
    assert len(merged["shard_reports"]) == 2
    spread_ms = float(merged["notes"][0].split("spread over ")[1].split(" ms")[0])
    assert spread_ms < 500  # the shards started together, not one after the other
    run = llm_pytester.path / "logs" / "latest"
    lines = (run / merged["records"]).read_text().splitlines()
    assert {json.loads(line)["shard"] for line in lines} == {0, 1}


def test_shards_need_enough_workers(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest(*BURST, "--llm-shards=2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --llm-shards=2 needs at least 2 pytest-xdist workers*"])
