"""No secret reaches a file or the terminal: a run with an API key and a password in the server
URL, through stress, the tool bench, the arenas, transcripts, a saved baseline and JUnit XML,
leaves neither in any file it wrote nor in what it printed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmserver.servers.bench_sim import bench_sim_config
from pytest_llmserver.sim import SimThread

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
