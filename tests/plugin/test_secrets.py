"""No secret reaches a file or the terminal: a run with an API key and a password in the server
URL, through stress, the tool bench, the arenas, transcripts, a saved baseline and JUnit XML,
leaves neither in any file it wrote nor in what it printed; nor does a key the hostile server
echoes back in error bodies, error events and malformed events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmserver.servers.bench_sim import bench_sim_config
from pytest_llmserver.sim import SimThread
from tests.hostile.server import HostileServer, HostileThread, Schedule

KEY = "sk-secret-abcdef1234567890"
PASSWORD = "pw-secret-31415"


@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    with SimThread(bench_sim_config()) as sim:
        yield sim.url.removeprefix("http://")


def written(folder: Path) -> dict[Path, str]:
    return {
        path: path.read_bytes().decode("utf-8", "replace")
        for path in folder.rglob("*")
        if path.is_file() and path.suffix != ".png"
    }


def test_no_secret_in_any_written_file_or_the_terminal(
    llm_pytester: pytest.Pytester, sim_root: str
) -> None:
    result = llm_pytester.runpytest(
        f"--llm-server=http://alice:{PASSWORD}@{sim_root}",
        f"--llm-api-key={KEY}",
        "-m",
        "throughput or (toolbench and quick) or arena",
        "--llm-model=oracle",
        "--llm-sweep=2",
        "--llm-total=4",
        "--llm-arena-questions=1",
        "--llm-judge-model=judge-fair",
        "--llm-save-transcripts",
        "--llm-save-baseline",
        "--junitxml=junit.xml",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=10)  # 7 tool tasks, 1 throughput, 2 arenas
    files = written(llm_pytester.path)
    assert len([p for p in files if p.name == "results.json"]) == 1
    assert any("transcripts" in p.parts for p in files)
    assert any(p.suffix == ".jsonl" for p in files)
    terminal = "\n".join(result.outlines + result.errlines)
    for secret in (KEY, PASSWORD):
        leaks = [str(p) for p, text in files.items() if secret in text]
        assert not leaks, f"{secret} written to {leaks}"
        assert secret not in terminal
    assert "alice:[redacted]@" in terminal  # the URL is shown, its password is not


ECHOES = ("key_echo_401", "key_echo_event", "key_echo_bad_event")
"""Faults whose reply holds the request's ``Authorization`` header (an error body, an error
event, a malformed event's excerpt)."""


def test_a_key_the_server_echoes_back_reaches_no_file_and_not_the_terminal(
    llm_pytester: pytest.Pytester,
) -> None:
    schedule = Schedule(lambda n: ECHOES[n // 2 % 3] if n % 2 else None)
    with HostileThread(HostileServer(schedule=schedule)) as server:
        result = llm_pytester.runpytest(
            f"--llm-server=http://alice:{PASSWORD}@{server.url.removeprefix('http://')}",
            f"--llm-api-key={KEY}",
            "-m",
            "throughput or (toolbench and quick)",
            "--llm-model=hostile-small",
            "--llm-sweep=2",
            "--llm-total=6",
            "--llm-save-transcripts",
            "--junitxml=junit.xml",
            "-p",
            "no:cacheprovider",
        )
    echoed = [s for s in server.log if s.fault in ECHOES]
    assert len(echoed) >= 3  # every echo fault was served ...
    assert all(KEY in s.authorization for s in echoed)  # ... to a request carrying the key
    files = written(llm_pytester.path)
    assert any(p.suffix == ".jsonl" for p in files)
    assert any("transcripts" in p.parts for p in files)
    assert any("[redacted]" in text for p, text in files.items() if p.suffix == ".jsonl")
    terminal = "\n".join(result.outlines + result.errlines)
    for secret in (KEY, PASSWORD):
        leaks = [str(p) for p, text in files.items() if secret in text]
        assert not leaks, f"{secret} written to {leaks}"
        assert secret not in terminal
