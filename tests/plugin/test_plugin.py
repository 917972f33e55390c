"""The plugin as users meet it: options, skips, usage errors, fixtures against the sim."""

from __future__ import annotations

import pytest

from pytest_llmserver.sim import Fault, SimConfig, SimThread

USER_TEST = """
import pytest

async def test_answer(llm_client, llm_server, llm_model):
    answer = await llm_client.chat("Say something.")
    m = llm_client.last_metrics
    assert answer and m.ttft_s > 0 and m.output_tokens > 0
    print("SERVER", llm_server.kind, llm_server.type, llm_model)
"""


@pytest.fixture
def user_test(llm_pytester: pytest.Pytester) -> pytest.Pytester:
    llm_pytester.makepyfile(test_user=USER_TEST)
    return llm_pytester


def test_without_server_tests_are_skipped_with_the_option_named(user_test: pytest.Pytester) -> None:
    user_test.makepyfile(
        test_marked="import pytest\n\n@pytest.mark.llm\ndef test_needs_server():\n    assert 0\n"
    )
    result = user_test.runpytest("-rs", "--strict-markers")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["*needs an LLM server: pass --llm-server=auto|URL|HOST:PORT|sim|local*"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--llm-server=not a url"],
            "ERROR: --llm-server: 'not a url' is not auto, a URL, HOST:PORT, sim or local*",
        ),
        (
            ["--llm-server=sim", "--llm-api=grpc"],
            "ERROR: --llm-api: 'grpc' is not one of auto, openai, ollama",
        ),
        (["--llm-timeout=0"], "ERROR: --llm-timeout: '0' is not a positive number of seconds*"),
        (
            ["--llm-scan-subnet=127.0.0/8"],
            "ERROR: --llm-scan-subnet: '127.0.0/8' is not a CIDR subnet (e.g. *)",
        ),
        (
            ["--llm-scan-subnet=127.0.0.0/16"],
            "ERROR: --llm-scan-subnet: 127.0.0.0/16 holds 65534 hosts, more than the cap of 1024;*",
        ),
        (
            ["--llm-scan-ports=8000,70000"],
            "ERROR: --llm-scan-ports: '70000' is out of range (ports are 1..65535, low-high)",
        ),
    ],
)
def test_bad_options_are_usage_errors(
    user_test: pytest.Pytester, args: list[str], message: str
) -> None:
    result = user_test.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_ini_value_names_the_ini_key(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nllm_concurrency = many\n"
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: ini option llm_concurrency: 'many' is not a whole number*"]
    )


@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_sim_session_serves_the_fixtures(user_test: pytest.Pytester, api: str) -> None:
    result = user_test.runpytest("test_user.py", "-s", "--llm-server=sim", f"--llm-api={api}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"llm-server: sim (api {api}), model: first", f"*SERVER * {api} oracle"]
    )


def test_pinned_url_with_unknown_model(user_test: pytest.Pytester) -> None:
    with SimThread() as sim:
        result = user_test.runpytest("test_user.py", f"--llm-server={sim.url}", "--llm-model=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # checked once, before the first test
    result.assert_outcomes()
    result.stdout.fnmatch_lines(
        [f"*model 'nope' is not served by {sim.url} (it serves: sim-small, sim-reasoner); *"]
    )


def test_server_answering_html(user_test: pytest.Pytester) -> None:
    with SimThread(SimConfig(fault=Fault.HTML)) as sim:
        result = user_test.runpytest("test_user.py", f"--llm-server={sim.url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()
    result.stdout.fnmatch_lines(
        [
            "*pytest-llmserver: --llm-server=*answered with text/html, not JSON: "
            "is this an OpenAI-compatible or Ollama API?*"
        ]
    )


def test_refused_connection(user_test: pytest.Pytester) -> None:
    result = user_test.runpytest("test_user.py", "--llm-server=127.0.0.1:9", "--llm-timeout=5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()
    result.stdout.fnmatch_lines(
        ["*pytest-llmserver: --llm-server=http://127.0.0.1:9: connection refused at *"]
    )


def test_markers_registered(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest("--markers")
    for name in ("llm", "toolbench", "quick", "stress", "throughput", "realistic_user", "arena"):
        result.stdout.fnmatch_lines([f"@pytest.mark.{name}:*"])


def test_builtin_suites_are_collected_only_when_no_path_is_given(
    user_test: pytest.Pytester,
) -> None:
    result = user_test.runpytest("--llm-server=sim", "--collect-only", "-q", "-m", "toolbench")
    result.stdout.fnmatch_lines(
        ["*test_toolbench.py::test_toolbench[Q01_*", "45/57 tests collected (12 deselected)*"]
    )
    result = user_test.runpytest("test_user.py", "--llm-server=sim", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["1 test collected*"])
