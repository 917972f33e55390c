"""A script written against the seed's API reference runs unchanged, end to end, against the
simulator: discovery results read as the seed's server dicts, the stress tester with its seed
fields and defaults, the seed forms of the arena, the scorer and the log helpers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmserver.servers.bench_sim import bench_sim_config
from pytest_llmserver.sim import SimThread

# The script is run as its own program (a user's script, not a test module). It restricts
# the scan to the simulator's loopback address and port, as every test here must.
SEED_SCRIPT = r"""
import asyncio, json, sys
from dataclasses import asdict
from urllib.parse import urlsplit

from pytest_llmserver import ChatHistoryManager, ModelClient
import httpx

from pytest_llmserver.arena import (
    ArenaMatchup, ArenaResult, ArenaStats, JudgeResult, PromptArena, PromptResponse,
    SYSTEM_PROMPTS, TEST_QUESTIONS,
)
from pytest_llmserver.discovery import (
    COMMON_PORTS, check_endpoint, check_server_health, probe_server, scan_network,
)
from pytest_llmserver.report import (
    log_request_error, log_test_summary, log_vllm_error, setup_logger,
)
from pytest_llmserver.stress import StressTester, TestStats
from pytest_llmserver.toolbench import (
    BRUTAL_SUBSET, EXTREME_SUBSET, HARD_SUBSET, QUICK_SUBSET, REALISTIC_SUBSET, TASKS,
    AgentTask, TaskScore, ToolCallRecord, Trajectory, call_matches, extract_numbers,
    numeric_match, run_agent_loop, safe_calc, score_task, word_present,
)

URL, OUT = sys.argv[1], sys.argv[2]
host, port = urlsplit(URL).hostname, urlsplit(URL).port
seen = []


async def progress(current, total):
    seen.append((current, total))


async def main():
    out = {}
    servers = await scan_network(progress, subnet=f"{host}/32", ports=[port])
    server = servers[0]
    out["server"] = [server["url"], server["type"], "oracle" in server["models"],
                     server.get("response_time") is not None, sorted(dict(server))]
    out["progress"] = bool(seen) and seen[-1][0] == seen[-1][1]
    healthy = await check_server_health(dict(server))
    out["health"] = healthy is not None and healthy["url"] == server["url"]
    async with httpx.AsyncClient(timeout=5.0) as http:
        listing = await check_endpoint(http, server["url"], "/v1/models")
        probed = await probe_server(host, port, http, asyncio.Semaphore(4))
    out["probe"] = [isinstance(listing, dict), probed is not None and probed["url"] == URL,
                    11434 in COMMON_PORTS]

    tester = StressTester(server, "sim-small", max_tokens=16)
    stats = await tester.run_throughput_test(4)
    out["throughput"] = {
        name: getattr(stats, name)
        for name in ("total", "completed", "success", "failed", "max_concurrent")
    }
    out["timings"] = [stats.avg_response_time > 0, stats.p50_ttft > 0, stats.avg_tps > 0,
                      stats.total_throughput_tps > 0, stats.wall_clock_time > 0,
                      stats.total_output_tokens > 0, isinstance(stats.errors, list)]
    out["results"] = [len(tester.results), all(r.status == "success" for r in tester.results)]
    out["reports"] = sorted(p.suffix for p in tester.out_dir.glob("stress-throughput*"))
    consistency = await tester.run_consistency_test(5)
    out["consistency"] = [consistency.success, consistency.first_half_ttft > 0,
                          consistency.second_half_ttft > 0, consistency.stddev_ttft >= 0]
    tokens = await tester.run_token_stress_test()
    out["token_sizes"] = tokens.params["sizes"]

    logger = setup_logger("seed-script", log_dir=OUT)
    log_request_error(logger, 7, RuntimeError("boom"), {"model": "sim-small"})
    log_vllm_error(logger, 8, "KV cache is full")
    log_test_summary(logger, "throughput", asdict(stats))

    arena = PromptArena(server, "sim-small", judge_model="judge-fair",
                        prompts=["plain", "concise"], questions=TEST_QUESTIONS[:1])
    result = await arena.run()
    out["arena"] = [result.kind, len(result.matchups), isinstance(result, ArenaResult),
                    isinstance(result.matchups[0], ArenaMatchup),
                    all(isinstance(row, ArenaStats) for row in result.stats),
                    isinstance(result.responses[0], PromptResponse),
                    isinstance(result.matchups[0].verdicts[0], JudgeResult),
                    {"plain", "concise"} <= set(SYSTEM_PROMPTS)]

    async with ModelClient(server, "oracle") as client:
        task = next(t for t in TASKS if t.task_id in QUICK_SUBSET and t.required_calls)
        trajectory = await run_agent_loop(client, task)
        score = score_task(task, trajectory)
        required = task.required_calls[0]
        call = next(c for c in trajectory.calls if c.name == required.name)
        out["toolbench"] = [score.passed, call_matches(call, required.name, dict(required.args)),
                            call_matches(call, "no_such_tool", {})]
        out["types"] = [isinstance(task, AgentTask), isinstance(trajectory, Trajectory),
                        isinstance(score, TaskScore), isinstance(call, ToolCallRecord),
                        call.args == call.arguments]
        answer = await client.chat("Say hello.")
        out["chat"] = [bool(answer), client.last_metrics.ttft_s > 0]
    out["subsets"] = [len(TASKS), len(QUICK_SUBSET), len(HARD_SUBSET), len(BRUTAL_SUBSET),
                      len(REALISTIC_SUBSET), len(EXTREME_SUBSET)]
    out["helpers"] = [safe_calc("2*21"), extract_numbers("1,250.5 and -3"),
                      numeric_match(42.0, [42.0]), word_present("differ", "they differ")]

    history = ChatHistoryManager(OUT + "/history")
    name = history.save([{"role": "user", "content": "hi"}], "sim-small", server)
    out["history"] = [name.endswith(".json"), len(history.list_all())]
    print(json.dumps(out))


asyncio.run(main())
"""


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with SimThread(bench_sim_config()) as sim:
        yield sim.url


def test_a_seed_style_script_runs_unchanged(sim_url: str, tmp_path: Path) -> None:
    script = tmp_path / "seed_script.py"
    script.write_text(SEED_SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), sim_url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    url, kind, has_oracle, timed, keys = out["server"]
    assert (url, has_oracle, timed) == (sim_url, True, True)
    assert kind in ("openai", "ollama")
    assert {"url", "type", "models", "ip", "port", "status", "response_time"} <= set(keys)
    assert out["progress"]
    assert out["health"]
    assert out["throughput"] == {
        "total": 4,
        "completed": 4,
        "success": 4,
        "failed": 0,
        "max_concurrent": 4,
    }
    assert all(out["timings"]), out["timings"]
    assert out["results"] == [4, True]
    assert out["reports"] == [".json", ".jsonl", ".md"]
    assert out["consistency"] == [5, True, True, True]
    assert out["token_sizes"] == [500, 1000, 2000, 5000]
    assert out["arena"][0] == "prompts"
    assert out["arena"][1] >= 1
    assert out["toolbench"] == [True, True, False]
    assert out["types"] == [True, True, True, True, True]
    assert out["subsets"] == [45, 7, 11, 6, 6, 7]
    assert out["chat"] == [True, True]
    assert out["helpers"] == [42, [1250.5, -3.0], True, True]
    assert out["history"] == [True, 1]
    log = (tmp_path / "run.log").read_text(encoding="utf-8")
    assert "request 7 failed: RuntimeError: boom" in log
    assert "KV cache is full" in log
    assert "throughput" in log
