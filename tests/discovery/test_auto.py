"""Discovery through pytest: --llm-server=auto, --llm-list, --llm-model=all (loopback only)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmserver.servers.bench_sim import bench_sim_config
from pytest_llmserver.sim import SimConfig

# --- through pytest ------------------------------------------------------------------------


@pytest.fixture
def bench_sims() -> Iterator[tuple[str, int, str, int]]:
    """An Ollama-like bench sim on 127.0.0.3 and a vLLM-like one on 127.0.0.9, in threads."""
    from pytest_llmserver.sim import SimThread

    base = bench_sim_config()
    with (
        SimThread(replace(base, host="127.0.0.3", persona="ollama")) as ollama,
        SimThread(replace(base, host="127.0.0.9", persona="vllm")) as vllm,
    ):
        yield ollama.url, ollama.port, vllm.url, vllm.port


def test_auto_runs_the_quick_tier_on_the_discovered_ollama_sim(
    llm_pytester: pytest.Pytester, bench_sims: tuple[str, int, str, int], tmp_path: Path
) -> None:
    ollama_url, ollama_port, vllm_url, vllm_port = bench_sims
    args = (
        "--llm-server=auto",
        "--llm-scan-subnet=127.0.0.0/28",
        f"--llm-scan-ports={ollama_port},{vllm_port}",
        f"--llm-cache-dir={tmp_path}",
        "--llm-model=oracle",
        "-m",
        "toolbench and quick",
        "-p",
        "no:cacheprovider",
    )
    result = llm_pytester.runpytest(*args)
    result.assert_outcomes(passed=7)
    served = len(bench_sim_config().models)
    result.stdout.fnmatch_lines(
        [
            f"llm-server: auto -> {ollama_url} (ollama *, {served} models, *), found by the "
            "subnet scan*",
            "  2 servers found; chose the first healthy one with models*",
            f"    {vllm_url} (vllm, {served} models, *)",
        ]
    )
    again = llm_pytester.runpytest(*args)
    again.assert_outcomes(passed=7)
    again.stdout.fnmatch_lines([f"llm-server: auto -> {ollama_url} *, found from the cache*"])


def test_llm_list_prints_servers_and_exits(
    llm_pytester: pytest.Pytester, bench_sims: tuple[str, int, str, int], tmp_path: Path
) -> None:
    ollama_url, ollama_port, vllm_url, vllm_port = bench_sims
    result = llm_pytester.runpytest(
        "--llm-list",
        "--llm-scan-subnet=127.0.0.0/28",
        f"--llm-scan-ports={ollama_port},{vllm_port}",
        "--llm-no-cache",
        f"--llm-cache-dir={tmp_path}",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "2 LLM server(s); looked at 127.0.0.0/28 ports * in * s",
            "server * type * kind * latency  models",
            f"{ollama_url} * ollama * ollama * ms  sim-small [[]0.1 GB, *[]], *",
            f"{vllm_url} * openai * vllm * ms  sim-small [[]ctx 8192[]], *",
        ]
    )
    assert "collected" not in result.stdout.str()
    assert not list(tmp_path.iterdir())  # --llm-no-cache wrote nothing


def test_auto_with_nothing_found_stops_the_session_with_what_was_scanned(
    llm_pytester: pytest.Pytester,
) -> None:
    llm_pytester.makepyfile(test_x="def test_x(llm_model):\n    pass\n")
    result = llm_pytester.runpytest(
        "--llm-server=auto", "--llm-scan-subnet=127.0.3.0/30", "--llm-scan-ports=9", "test_x.py"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()
    result.stdout.fnmatch_lines(
        [
            "llm-server: auto found no LLM server (looked at 127.0.3.0/30 ports 9 in * s)",
            "*--llm-server=auto found no LLM server (looked at 127.0.3.0/30 ports 9*); start *",
        ]
    )


MODEL_TEST = """
def test_model(llm_model, llm_client):
    assert llm_client.model == llm_model
"""


def test_model_all_parametrizes_over_every_model_with_ids(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.makepyfile(test_models=MODEL_TEST)
    result = llm_pytester.runpytest("--llm-server=sim", "--llm-model=all", "-v", "test_models.py")
    result.assert_outcomes(passed=len(bench_sim_config().models))
    result.stdout.fnmatch_lines_random(
        [f"test_models.py::test_model[[]{m}[]] PASSED*" for m in bench_sim_config().models]
    )


def test_model_all_on_a_pinned_url(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.makepyfile(test_models=MODEL_TEST)
    from pytest_llmserver.sim import SimThread

    with SimThread(SimConfig(host="127.0.0.3", models=("a", "b:7b"))) as sim:
        result = llm_pytester.runpytest(
            f"--llm-server={sim.url}", "--llm-model=all", "-v", "test_models.py"
        )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines_random(
        ["*test_model[[]a[]] PASSED*", "*test_model[[]b:7b[]] PASSED*"]
    )
