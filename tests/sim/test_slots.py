"""The llama.cpp persona's parallel slots: ``/props`` ``total_slots`` and ``/slots``."""

from __future__ import annotations

import httpx
import pytest

from pytest_llmserver.sim import SimConfig, SimServer


async def test_llamacpp_persona_reports_its_slots() -> None:
    config = SimConfig(host="127.0.0.1", persona="llamacpp", slots=3)
    async with SimServer(config) as sim, httpx.AsyncClient(timeout=5.0) as http:
        props = (await http.get(sim.url + "/props")).json()
        slots = (await http.get(sim.url + "/slots")).json()
    assert props["total_slots"] == 3
    assert [slot["id"] for slot in slots] == [0, 1, 2]


def test_slots_must_be_positive() -> None:
    with pytest.raises(ValueError, match="slots must be >= 1, got 0"):
        SimConfig(slots=0)
