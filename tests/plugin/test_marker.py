"""``@pytest.mark.llm_stress`` under pytest against the simulator: a marked test gets its run's
``TestStats`` with the marker's arguments, its overrides stay with it, unmarked tests get the
session, a failed check fails the test, and a bad use stops the run with one line (each
message is checked in ``test_marker_parse.py``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).parents[2] / "example_suites"
SIM = ["--llm-server=sim", "-p", "no:cacheprovider", "-p", "no:randomly"]

MARKED = """
import json
from pathlib import Path

import pytest

def _keep(name, stats, fixture):
    Path(name).write_text(json.dumps({"type": type(fixture).__name__, **stats.params}))

@pytest.mark.llm_stress(
    mode="throughput", concurrency=3, total=6, max_tokens=7, temperature=0.5, warmup=0
)
def test_burst(llm_stress):
    _keep("burst.json", llm_stress, llm_stress)
    assert llm_stress.summary.ok == 6

def test_after(llm_stress):
    _keep("after.json", llm_stress.run(lambda t: t.run_throughput_test(2, 2), "after"), llm_stress)

@pytest.mark.llm_stress(mode="throughput", total=3)
def test_unset(llm_stress):
    _keep("unset.json", llm_stress, llm_stress)

@pytest.mark.llm_stress(mode="consistency", total=2, slos="ttft_p95:0.000001")
def test_fast(llm_stress):
    raise AssertionError("the body ran")
"""


def _read(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((pytester.path / name).read_text())
    return doc


def test_marked_tests_get_their_stats_and_unmarked_ones_the_session(
    llm_pytester: pytest.Pytester,
) -> None:
    llm_pytester.makepyfile(test_custom=MARKED)
    logs = f"--llm-logs={llm_pytester.path / 'logs'}"
    options = ("--llm-concurrency=2", "--llm-max-tokens=9", "--llm-warmup=0")
    result = llm_pytester.runpytest_inprocess(*SIM, logs, *options)
    result.assert_outcomes(passed=3, failed=1)
    burst = _read(llm_pytester, "burst.json")
    assert burst["type"] == "TestStats"
    assert (burst["concurrency"], burst["total"], burst["id"]) == (3, 6, "test_burst")
    assert (burst["max_tokens"], burst["temperature"], burst["warmup"]) == (7, 0.5, 0)
    after = _read(llm_pytester, "after.json")  # the overrides were that run's only
    assert after["type"] == "StressSession"
    assert (after["max_tokens"], after["temperature"], after["warmup"]) == (9, 0.0, 0)
    unset = _read(llm_pytester, "unset.json")  # unset arguments: from the options
    assert (unset["concurrency"], unset["total"], unset["max_tokens"]) == (2, 3, 9)
    reports = {p.name for p in (llm_pytester.path / "logs" / "latest").glob("stress-*.md")}
    assert reports == {
        "stress-throughput-test_burst.md",
        "stress-throughput-after.md",
        "stress-throughput-test_unset.md",
        "stress-consistency-test_fast.md",
    }
    # a missed SLO fails the test (not its setup), before the test's body runs
    result.stdout.fnmatch_lines(["*FAILED*test_fast - Failed: SLO missed: ttft_p95 measured *"])
    result.stdout.no_fnmatch_line("*the body ran*")
    result.stdout.no_fnmatch_line("*ERROR*")


def test_marked_tests_are_selected_by_their_mode(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.makepyfile(
        test_custom="""
        import pytest

        @pytest.mark.llm_stress(mode="throughput")
        def test_burst(llm_stress):
            pass

        @pytest.mark.llm_stress(mode="sustained")
        def test_steady(llm_stress):
            pass
        """
    )
    result = llm_pytester.runpytest_inprocess("--collect-only", "-q", "-m", "throughput")
    result.stdout.fnmatch_lines(["test_custom.py::test_burst", "*1 deselected*"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('mode="burst"', "mode='burst' is not one of throughput, sustained, consistency, *"),
        ('"throughput"', "1 positional argument(s) given: it takes keyword arguments only, *"),
        (
            'mode="sustained", rate=3',
            "mode='sustained' takes no rate= (it takes: rpm, duration_s, arrival, burstiness, "
            "max_tokens, temperature, top_p, seed, sampling_seed, dataset, "
            "shared_prefix_tokens, warmup, slos, input_tokens, output_tokens)",
        ),
        ('mode="throughput", concurrency="x"', "concurrency='x' is not a whole number >= 1"),
        ('mode="throughput", concurrency=0', "concurrency=0 is not a whole number >= 1"),
    ],
)
def test_each_bad_use_stops_the_run_with_one_line_naming_the_test(
    llm_pytester: pytest.Pytester, marker: str, message: str
) -> None:
    llm_pytester.makepyfile(
        test_custom=f"import pytest\n\n@pytest.mark.llm_stress({marker})\n"
        "def test_bad(llm_stress):\n    pass\n"
    )
    result = llm_pytester.runpytest_inprocess()  # found before any server is asked for
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: test_custom.py::test_bad: @pytest.mark.llm_stress: {message}"]
    )
    assert len([line for line in result.stderr.lines if line.strip()]) == 1


def test_a_marker_on_a_test_without_the_fixture_is_a_usage_error(
    llm_pytester: pytest.Pytester,
) -> None:
    llm_pytester.makepyfile(
        test_custom="""
        import pytest

        @pytest.mark.llm_stress(mode="throughput")
        def test_forgot():
            pass
        """
    )
    result = llm_pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: test_custom.py::test_forgot: @pytest.mark.llm_stress: "
            "the test does not take the llm_stress fixture that runs it"
        ]
    )


def test_the_marker_is_registered(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(['@pytest.mark.llm_stress(mode="throughput", *TestStats'])


def test_the_example_suite_passes_against_the_simulator(llm_pytester: pytest.Pytester) -> None:
    shutil.copy(EXAMPLES / "test_custom_stress.py", llm_pytester.path)
    logs = f"--llm-logs={llm_pytester.path / 'logs'}"
    result = llm_pytester.runpytest_inprocess(*SIM, logs, "--llm-warmup=0")
    result.assert_outcomes(passed=3)
    latest = llm_pytester.path / "logs" / "latest"
    assert (latest / "stress-throughput-test_burst_of_sixteen.md").is_file()
    burst = json.loads((latest / "stress-throughput-test_burst_of_sixteen.json").read_text())
    assert (burst["params"]["input_tokens"], burst["params"]["output_tokens"]) == ("256", "16")
    lengths = burst["summary"]["lengths"]
    assert lengths["input"]["actual_mean"] == lengths["input"]["requested_mean"] == 256
    assert lengths["output"]["actual_max"] == 16
    assert (latest / "stress-sustained-test_steady_rate_meets_the_slos.md").is_file()
    assert (latest / "stress-consistency-test_same_prompt_same_answer.md").is_file()
