"""Fixtures of the client tests: a fake clock and a client of each API reading it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pytest_llmserver.client import ModelClient
from tests.client.mocked import BASE
from tests.clocked import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def openai_client(clock: FakeClock) -> AsyncIterator[ModelClient]:
    async with ModelClient({"url": BASE, "type": "openai"}, "m", clock=clock) as client:
        yield client


@pytest.fixture
async def ollama_client(clock: FakeClock) -> AsyncIterator[ModelClient]:
    async with ModelClient({"url": BASE, "type": "ollama"}, "m", clock=clock) as client:
        yield client
