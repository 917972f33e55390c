"""Bringing the target up: the simulator with the scripted models, static model lists, and
the one-line errors of a server that cannot be used as asked."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from pytest_llmserver._util import stop_process
from pytest_llmserver.client import TargetError
from pytest_llmserver.servers import JUDGE_FAIR, JUDGE_MODELS, ORACLE, serve, static_models
from pytest_llmserver.servers.bench_sim import bench_models, bench_sim_config
from pytest_llmserver.settings import Settings


def settings(**cli: str) -> Settings:
    return Settings.resolve(cli, {}, {})


def test_the_bench_simulator_serves_the_scripted_models() -> None:
    config = bench_sim_config(slowdown=2.0)
    assert config.models == bench_models()
    assert {ORACLE, *JUDGE_MODELS} <= set(config.models)
    assert config.models[:2] == ("sim-small", "sim-reasoner")
    assert config.timing.ttft_s == pytest.approx(2 * bench_sim_config().timing.ttft_s)


def test_static_models_need_no_server() -> None:
    assert static_models(settings(server="sim")) == list(bench_models())
    assert static_models(settings(server="local")) == ["smollm2-135m"]
    assert static_models(settings(server="http://127.0.0.1:9")) is None


def test_serve_refuses_what_cannot_work() -> None:
    with pytest.raises(TargetError, match="no server given"), serve(settings()):
        pass
    local_ollama = settings(server="local", api="ollama")
    with pytest.raises(TargetError, match="speaks the OpenAI API"), serve(local_ollama):
        pass


def test_serve_starts_and_stops_the_simulator() -> None:
    with serve(settings(server="sim")) as record:
        assert JUDGE_FAIR in record.models
        assert httpx.get(record.root + "/v1/models", timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(record.root + "/v1/models", timeout=5)


def test_the_bench_simulator_command_line() -> None:
    command = [sys.executable, "-m", "pytest_llmserver.servers.bench_sim", "--port=0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "listening on http://127.0.0.1:" in line
        url = line.rsplit(" ", 1)[-1].strip()
        listed = httpx.get(url + "/v1/models", timeout=5).json()
        assert {ORACLE, JUDGE_FAIR} <= {m["id"] for m in listed["data"]}
    finally:
        stop_process(proc)
    refused = subprocess.run([*command, "--host=192.0.2.1"], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "is not a loopback address" in refused.stderr
