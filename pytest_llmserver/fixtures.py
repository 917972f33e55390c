"""Fixtures over the plain APIs: ``llm_settings``, ``llm_server``, ``llm_model``, ``llm_client``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from pytest_llmserver.client import LLMError, ModelClient, Timeouts
from pytest_llmserver.launch import serve
from pytest_llmserver.settings import Settings
from pytest_llmserver.target import ServerRecord, select_model

SETTINGS_KEY = pytest.StashKey[Settings]()
NO_SERVER = (
    "needs an LLM server: pass --llm-server=URL|HOST:PORT|sim|local "
    "(or set LLM_SERVER, or ini llm_server)"
)


@pytest.fixture(scope="session")
def llm_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved options of this run."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def llm_server(llm_settings: Settings) -> Iterator[ServerRecord]:
    """The server under test, started for the session when it is ``sim`` or ``local``."""
    if llm_settings.server is None:
        pytest.skip(NO_SERVER)
    try:
        with serve(llm_settings) as record:
            yield record
    except (LLMError, RuntimeError) as exc:
        pytest.fail(f"LLM server: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def llm_model(llm_server: ServerRecord, llm_settings: Settings) -> str:
    """The model under test (``--llm-model``, else the first the server lists)."""
    try:
        return select_model(llm_server, llm_settings.model)
    except LLMError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest_asyncio.fixture
async def llm_client(
    llm_server: ServerRecord, llm_model: str, llm_settings: Settings
) -> AsyncIterator[ModelClient]:
    """A ready ``ModelClient`` for the server and model under test."""
    async with ModelClient(
        llm_server,
        llm_model,
        api_key=llm_settings.api_key,
        timeouts=Timeouts.from_total(llm_settings.timeout_s),
        concurrency=llm_settings.concurrency,
    ) as client:
        yield client
