"""Fixtures of the simulator tests: a fast simulated server and an httpx client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from pytest_llmserver.sim import SimConfig, SimServer
from tests.sim.helpers import FAST


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig(timing=FAST)) as server:
        yield server


@pytest_asyncio.fixture
async def client(sim: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10.0) as http:
        yield http
