"""The target checked once, before the first test: one line and a usage error when the server
or model cannot be used, no per-test tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PYTEST = (sys.executable, "-m", "pytest", "-p", "no:randomly")
NEEDS_TARGET = "def test_needs(llm_server):\n    pass\n"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def html_server(tmp_path: Path) -> Iterator[str]:
    """A plain file server on loopback: every API path is its HTML 404 page."""
    root = tmp_path / "www"
    root.mkdir()

    def handler(*args: object) -> _Quiet:
        return _Quiet(*args, directory=str(root))  # type: ignore[arg-type]

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def error_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines + result.errlines if "pytest-llmserver:" in line]


@pytest.fixture(scope="module")
def refused(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], float]:
    """The acceptance run: nothing listens at the URL; built-in tool bench and stress asked."""
    folder = tmp_path_factory.mktemp("refused")
    (folder / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    started = time.monotonic()
    done = subprocess.run(
        [*PYTEST, "--llm-server=http://127.0.0.1:1", "-m", "toolbench or stress"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LLM_LOGS": str(folder / "logs")},
    )
    return done, time.monotonic() - started


def test_nothing_listening_is_one_line_and_a_usage_error(
    refused: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    done, _ = refused
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    output = done.stdout + done.stderr
    lines = [line for line in output.splitlines() if "pytest-llmserver:" in line]
    assert len(lines) == 1, output
    assert "connection refused at http://127.0.0.1:1/" in lines[0]
    assert "start the server" in lines[0]
    for noise in ("Traceback", "FAILED", "ERROR"):
        assert noise not in output


@pytest.mark.timing
def test_nothing_listening_stops_within_5_s(
    refused: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    assert refused[1] < 5.0


def test_html_404_server_is_named_by_status_and_content_type(
    llm_pytester: pytest.Pytester, html_server: str
) -> None:
    llm_pytester.makepyfile(test_one=NEEDS_TARGET, test_two=NEEDS_TARGET)
    result = llm_pytester.runpytest(f"--llm-server=http://user:s3cret@{html_server}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()
    lines = error_lines(result)
    assert len(lines) == 1
    assert "HTTP 404 text/html at /v1/models: not an LLM API" in lines[0]
    output = "\n".join(result.outlines + result.errlines)
    assert "s3cret" not in output
    assert "<html" not in output.lower()


def test_tests_that_need_no_target_run_without_the_check(
    llm_pytester: pytest.Pytester, html_server: str
) -> None:
    llm_pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = llm_pytester.runpytest(f"--llm-server=http://{html_server}")
    result.assert_outcomes(passed=1)
    assert error_lines(result) == []


def test_collect_only_does_not_check(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.makepyfile(test_one=NEEDS_TARGET)
    result = llm_pytester.runpytest("--llm-server=http://127.0.0.1:1", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert error_lines(result) == []


def test_unknown_sim_model_is_one_line(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.makepyfile(test_one=NEEDS_TARGET, test_two=NEEDS_TARGET)
    result = llm_pytester.runpytest("--llm-server=sim", "--llm-model=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = error_lines(result)
    assert len(lines) == 1
    assert "model 'nope' is not served by sim" in lines[0]


BROKEN_START = """
import contextlib

import pytest_llmserver.servers as servers


@contextlib.contextmanager
def cannot_start(*args, **kwargs):
    raise RuntimeError("--llm-server=local needs llama.cpp's server: pip install it")
    yield


real_serve = servers.serve
servers.serve = cannot_start


def pytest_unconfigure(config):
    servers.serve = real_serve  # inline runs share the module with the runs after this one
"""


def test_a_server_that_cannot_start_stops_the_session_with_one_line(
    llm_pytester: pytest.Pytester,
) -> None:
    llm_pytester.makeconftest(BROKEN_START)
    llm_pytester.makepyfile(
        "def test_one(llm_server):\n    pass\n\n\ndef test_two(llm_server):\n    pass\n"
    )
    result = llm_pytester.runpytest("--llm-server=sim", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    said = [line for line in result.outlines if "needs llama.cpp's server" in line]
    assert len(said) == 1
    assert "pytest-llmserver: --llm-server=local needs llama.cpp's server" in said[0]
    assert "test_two" not in result.stdout.str()  # the session stopped at the first test
