"""The request-shape options under pytest: the run's clients carry top_p, the extra body and
the headers; the settings record what was sent; a secret header value reaches no file and
not the terminal, even when the server echoes it back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.server import HostileServer, HostileThread, Schedule
from tests.plugin.test_secrets import ECHOES, written

TOKEN = "hdr-secret-271828"

USER_TEST = f"""
import asyncio

import pytest


@pytest.mark.shape
def test_shape(llm_target):
    async def chat():
        async with llm_target.client() as client:
            assert client.top_p == 0.9
            assert client.extra_body == {{"top_k": 5, "options": {{"num_ctx": 512}}}}
            assert client._http.headers["x-team"] == "bench"
            assert client._http.headers["authorization"] == "Bearer {TOKEN}"
            return await client.chat("hello")

    assert asyncio.run(chat())
"""

SHAPE = (
    "--llm-top-p=0.9",
    '--llm-extra-body={"top_k": 5, "options": {"num_ctx": 512}}',
    "--llm-header=X-Team: bench",
    f"--llm-header=Authorization: Bearer {TOKEN}",
)


TOOLBENCH_TOO = ("--llm-builtin=yes", "--llm-model=oracle", "-m", "(toolbench and quick) or shape")


def _settings(folder: Path) -> dict[str, object]:
    results = json.loads((folder / "logs" / "latest" / "results.json").read_text())
    settings: dict[str, object] = results["settings"]
    return settings


@pytest.mark.parametrize("api", ["openai", "ollama"])
def test_the_run_sends_and_records_the_request_shape(
    llm_pytester: pytest.Pytester, api: str
) -> None:
    llm_pytester.makepyfile(test_user=USER_TEST)
    result = llm_pytester.runpytest(
        "--llm-server=sim", f"--llm-api={api}", *SHAPE, *TOOLBENCH_TOO, "-p", "no:cacheprovider"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 1, outcomes  # the user's test and the tool bench
    assert "failed" not in outcomes
    settings = _settings(llm_pytester.path)
    assert settings["top_p"] == 0.9
    assert settings["extra_body"] == {"top_k": 5, "options": {"num_ctx": 512}}
    assert settings["header"] == {"X-Team": "bench", "Authorization": "set"}
    assert (settings["temperature"], settings["sampling_seed"]) == (0.0, 42)
    terminal = "\n".join(result.outlines + result.errlines)
    leaks = [str(p) for p, text in written(llm_pytester.path / "logs").items() if TOKEN in text]
    assert not leaks, f"{TOKEN} written to {leaks}"
    assert TOKEN not in terminal


def test_a_bad_extra_body_stops_the_run_with_one_line(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest("--llm-server=sim", "--llm-extra-body=[1]")
    assert result.ret != 0
    lines = [line for line in result.errlines if "--llm-extra-body" in line]
    assert lines == ["ERROR: --llm-extra-body: not a JSON object (got a list)"], result.errlines


def test_a_secret_header_the_server_echoes_reaches_no_file(
    llm_pytester: pytest.Pytester,
) -> None:
    schedule = Schedule(lambda n: ECHOES[n // 2 % 3] if n % 2 else None)
    with HostileThread(HostileServer(schedule=schedule)) as server:
        result = llm_pytester.runpytest(
            f"--llm-server={server.url}",
            f"--llm-header=Authorization: Bearer {TOKEN}",
            "-m",
            "toolbench and quick",
            "--llm-model=hostile-small",
            "--llm-save-transcripts",
            "-p",
            "no:cacheprovider",
        )
    echoed = [s for s in server.log if s.fault in ECHOES]
    assert echoed
    assert all(TOKEN in s.authorization for s in echoed)
    terminal = "\n".join(result.outlines + result.errlines)
    leaks = [str(p) for p, text in written(llm_pytester.path).items() if TOKEN in text]
    assert not leaks, f"{TOKEN} written to {leaks}"
    assert TOKEN not in terminal
