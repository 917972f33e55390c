"""Defaults fitted to the target: the sim's tool-calling model, a llama.cpp server's slots as
the concurrency, what every request was sent with, and no pytest-asyncio warning."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from pytest_llmserver.servers.bench_sim import with_bench
from pytest_llmserver.settings import Settings, SettingsError
from pytest_llmserver.sim import SimConfig, SimThread

QUICK = ("-m", "toolbench and quick", "-p", "no:cacheprovider", "--llm-model=oracle")
UNSET = 'The configuration option "asyncio_default_fixture_loop_scope" is unset'


def _results(pytester: pytest.Pytester) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (pytester.path / "logs" / "latest" / "results.json").read_text()
    )
    return doc


def _toolbench_json(pytester: pytest.Pytester) -> dict[str, Any]:
    (path,) = (pytester.path / "logs" / "latest").rglob("toolbench.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


@pytest.mark.parametrize(("given", "expected"), [((), 2), (("--llm-concurrency=3",), 3)])
def test_llamacpp_slots_are_the_default_concurrency(
    llm_pytester: pytest.Pytester, given: tuple[str, ...], expected: int
) -> None:
    config = with_bench(replace(SimConfig(), persona="llamacpp", slots=2))
    with SimThread(config) as sim:
        result = llm_pytester.runpytest(f"--llm-server={sim.url}", *QUICK, *given)
    assert result.ret == 0
    bench = _toolbench_json(llm_pytester)
    assert bench["concurrency"] == expected
    note = "concurrency 2 = the server's slots (--llm-concurrency=N to change)"
    assert (note in bench["notes"]) is (not given)
    assert _results(llm_pytester)["settings"]["concurrency"] == expected


def test_sim_alone_runs_the_tool_calling_model_with_sampling_defaults(
    llm_pytester: pytest.Pytester,
) -> None:
    result = llm_pytester.runpytest(
        "--llm-server=sim", "-m", "toolbench and quick", "-p", "no:cacheprovider"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 0
    assert "failed" not in outcomes
    bench = _toolbench_json(llm_pytester)
    assert bench["model"] == "oracle"
    assert bench["concurrency"] == 4  # the sim reports no slots
    assert bench["sent"] == {"max_tokens": 512, "temperature": 0.0, "seed": 42}
    settings = _results(llm_pytester)["settings"]
    assert (settings["temperature"], settings["sampling_seed"]) == (0.0, 42)


def test_no_asyncio_warning_without_an_ini(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert UNSET not in result.stdout.str() + result.stderr.str()
    version = tuple(int(p) for p in pytest_asyncio.__version__.split(".")[:2])
    scope = "fixture-scope" if version >= (1, 5) else "function"  # what each version knows
    result.stdout.fnmatch_lines([f"*asyncio_default_fixture_loop_scope={scope},*"])


def test_a_loop_scope_the_user_set_is_kept(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = module\n")
    pytester.makepyfile(test_plain="def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*asyncio_default_fixture_loop_scope=module*"])


def test_sampling_options_parse_numbers_or_none() -> None:
    defaults = Settings.defaults().run
    assert (defaults.temperature, defaults.sampling_seed) == (0.0, 42)
    run = Settings.resolve({"temperature": "none"}, {"LLM_SAMPLING_SEED": "none"}, {}).run
    assert (run.temperature, run.sampling_seed) == (None, None)
    run = Settings.resolve({}, {}, {"temperature": "0.7", "sampling_seed": "7"}).run
    assert (run.temperature, run.sampling_seed) == (0.7, 7)
    with pytest.raises(SettingsError, match=r"^--llm-temperature: 'hot' is not a number >= 0"):
        Settings.resolve({"temperature": "hot"}, {}, {})
    with pytest.raises(SettingsError, match=r"is not a whole number >= 0 \(e\.g\. 1\) or none$"):
        Settings.resolve({"sampling_seed": "-1"}, {}, {})
