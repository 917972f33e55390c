"""Discovery on loopback only: the connect and fingerprint phases, the products, the choice.

Every scan here stays inside 127.0.0.0/8 (sims bind 127.0.0.3, 127.0.0.9, ...).
"""

from __future__ import annotations

import asyncio
import io
import time
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmserver._util import ProgressLine
from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery import (
    Discovery,
    ScanProgress,
    discover,
    scan_network,
)
from pytest_llmserver.report.discovery import scan_progress_text
from pytest_llmserver.sim.persona import Persona
from tests.discovery.servers import (
    hang_up,
    html_reply,
    junk_server,
    odd_json_reply,
    scan_options,
    silent,
    sim_server,
)


@pytest.mark.asyncio
async def test_scan_finds_and_classifies_sims_and_ignores_junk(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        ollama = await stack.enter_async_context(sim_server("127.0.0.3", "ollama"))
        vllm = await stack.enter_async_context(sim_server("127.0.0.9", "vllm", models=("m-large",)))
        junk_ports = [
            await stack.enter_async_context(junk_server(host, reply))
            for host, reply in (
                ("127.0.0.3", html_reply),
                ("127.0.0.4", odd_json_reply),
                ("127.0.0.5", hang_up),
                ("127.0.0.6", silent),
            )
        ]
        ports = (ollama.port, vllm.port, *junk_ports)
        seen: list[ScanProgress] = []
        started = time.perf_counter()
        result = await discover(scan_options(tmp_path, ports), seen.append)
        elapsed = time.perf_counter() - started
    assert [(s.url, s.type, s.kind) for s in result.servers] == [
        (ollama.url, "ollama", "ollama"),
        (vllm.url, "openai", "vllm"),
    ]
    assert result.phase == "subnet"
    assert result.chosen is result.servers[0]
    assert result.servers[0].models == ["sim-small", "sim-reasoner"]
    info = result.servers[0].info("sim-small")
    assert info is not None
    assert info.digest
    assert info.size_bytes
    assert result.servers[1].info("m-large") == replace(
        result.servers[1].model_info[0], name="m-large", context_length=8192
    )
    rejected = result.rejected
    assert "text/html, not JSON" in rejected[f"http://127.0.0.3:{junk_ports[0]}"]
    assert "unexpected shape" in rejected[f"http://127.0.0.4:{junk_ports[1]}"]
    assert f"http://127.0.0.5:{junk_ports[2]}" in rejected
    assert f"http://127.0.0.6:{junk_ports[3]}" in rejected
    assert elapsed < 5  # the silent port costs its timeouts, not the test's patience
    stages = {(p.phase, p.stage) for p in seen}
    assert stages == {("subnet", "connect"), ("subnet", "fingerprint")}
    connect = [p for p in seen if p.stage == "connect"]
    assert connect[-1].done == connect[-1].total == 14 * len(ports)


@pytest.mark.parametrize(
    ("persona", "kind"),
    [
        ("llamacpp", "llamacpp"),
        ("lmstudio", "lmstudio"),
        ("sglang", "sglang"),
        ("openai", "openai"),
        ("sim", "ollama"),
    ],
)
@pytest.mark.asyncio
async def test_each_product_is_told_apart(persona: Persona, kind: str) -> None:
    async with sim_server("127.0.0.2", persona) as sim:
        found = await scan_network(subnet="127.0.0.2/32", ports=[sim.port], loopback_only=True)
    assert [(s.kind, s.models) for s in found] == [(kind, ["sim-small", "sim-reasoner"])]
    if persona == "llamacpp":
        info = found[0].model_info[0]
        assert (info.context_length, info.size_bytes, info.quantization) == (8192, 96e6, "Q4_0")
    if persona == "lmstudio":
        assert found[0].model_info[0].quantization == "Q4_0"


@pytest.mark.asyncio
async def test_a_server_that_wants_a_key_is_listed_but_not_chosen(tmp_path: Path) -> None:
    async def unauthorized(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(10):
            await reader.readuntil(b"\r\n\r\n")
            body = b'{"error": {"message": "invalid api key"}}'
            writer.write(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()

    async with junk_server("127.0.0.7", unauthorized) as port:
        result = await discover(scan_options(tmp_path, (port,)))
    assert [(s.url, s.status) for s in result.servers] == [
        (f"http://127.0.0.7:{port}", "auth_required")
    ]
    assert result.chosen is None
    assert result.phase == "none"


def test_progress_line_rewrites_one_line() -> None:
    out = io.StringIO()
    line = ProgressLine(out, min_interval_s=0.0)
    line.show(scan_progress_text(ScanProgress("subnet", "connect", 10, 112, open=2)))
    line.show(scan_progress_text(ScanProgress("subnet", "fingerprint", 2, 2, open=2, found=1)))
    line.close(clear=True)
    assert out.getvalue().split("\r")[1:] == [
        "llm discovery: subnet connect 10/112, 2 open",
        "llm discovery: subnet fingerprint 2/2, 1 LLM server(s)",
        " " * 54,
        "",
    ]


# --- the choice ----------------------------------------------------------------------------


def test_choice_is_deterministic_healthy_with_models_then_address() -> None:
    records = [
        ServerRecord(url="http://127.0.0.9:80", models=["m"], status="ok"),
        ServerRecord(url="http://127.0.0.2:80", models=[], status="ok"),
        ServerRecord(url="http://127.0.0.3:81", models=["m"], status="ok"),
        ServerRecord(url="http://127.0.0.3:80", models=["m"], status="auth_required"),
        ServerRecord(url="http://127.0.0.3:80", models=["m"], status="ok"),
    ]
    from pytest_llmserver.discovery.scan import server_order

    ordered = sorted(records, key=server_order)
    assert [r.url for r in ordered][:3] == [
        "http://127.0.0.3:80",
        "http://127.0.0.3:81",
        "http://127.0.0.9:80",
    ]
    assert Discovery(servers=ordered, phase="subnet").chosen is ordered[0]
