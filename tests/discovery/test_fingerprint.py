"""``context_length``: what a server says one request may use, asked of loopback sims."""

from __future__ import annotations

from pytest_llmserver.client import ModelInfo, ServerRecord
from pytest_llmserver.discovery import context_length, probe_url
from pytest_llmserver.sim.persona import CONTEXT_LENGTH
from tests.discovery.servers import sim_server

RECORDED = 1234  # what the record says, told apart from the sims' 8192


async def test_ollama_api_show_is_asked() -> None:
    async with sim_server("127.0.0.3", "ollama") as sim:
        record = await probe_url(sim.url)
        record.model_info[0].context_length = RECORDED
        assert record.type == "ollama"
        assert await context_length(record, "sim-small") == CONTEXT_LENGTH


async def test_llamacpp_props_n_ctx_is_asked() -> None:
    async with sim_server("127.0.0.3", "llamacpp") as sim:
        record = await probe_url(sim.url)
        record.model_info[0].context_length = RECORDED
        assert record.kind == "llamacpp"
        assert await context_length(record, "sim-small") == CONTEXT_LENGTH


async def test_without_such_an_endpoint_the_record_answers() -> None:
    async with sim_server("127.0.0.3", "openai") as sim:
        record = await probe_url(sim.url)
        assert await context_length(record, "sim-small") is None  # nobody says
        record.model_info[0].context_length = RECORDED
        assert await context_length(record, "sim-small") == RECORDED
        assert await context_length(record, "not-listed") is None
    gone = ServerRecord(
        url=sim.url, type="ollama", model_info=[ModelInfo("sim-small", context_length=RECORDED)]
    )
    assert await context_length(gone, "sim-small", timeout_s=1.0) == RECORDED
