"""Fixtures over the plain APIs: ``llm_settings``, ``llm_server``, ``llm_model``, ``llm_client``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from pytest_llmserver.bench import ToolbenchSession, task_of
from pytest_llmserver.client import LLMError, ModelClient, Timeouts
from pytest_llmserver.launch import serve
from pytest_llmserver.report import make_run_dir
from pytest_llmserver.settings import Settings
from pytest_llmserver.stress_glue import StressSession
from pytest_llmserver.target import ServerRecord, select_model

SETTINGS_KEY = pytest.StashKey[Settings]()
RUN_DIR_KEY = pytest.StashKey[Path]()
TOOLBENCH_KEY = pytest.StashKey[ToolbenchSession]()
STRESS_KEY = pytest.StashKey[StressSession]()
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
        max_tokens=llm_settings.max_tokens,
    ) as client:
        yield client


def run_dir(config: pytest.Config) -> Path:
    """This session's report directory, made on first use."""
    if RUN_DIR_KEY not in config.stash:
        config.stash[RUN_DIR_KEY] = make_run_dir(config.stash[SETTINGS_KEY].logs_dir)
    return config.stash[RUN_DIR_KEY]


@pytest.fixture(scope="session")
def llm_toolbench(
    request: pytest.FixtureRequest, llm_server: ServerRecord, llm_model: str, llm_settings: Settings
) -> ToolbenchSession:
    """Runs the session's selected tool-bench tasks together; tests check their own result."""
    tasks = [t for t in (task_of(item) for item in request.session.items) if t is not None]
    unique = list({task.task_id: task for task in tasks}.values())
    config = request.config
    bench = ToolbenchSession(unique, llm_server, llm_model, llm_settings, lambda: run_dir(config))
    config.stash[TOOLBENCH_KEY] = bench
    return bench


@pytest.fixture(scope="session")
def llm_stress(
    request: pytest.FixtureRequest, llm_server: ServerRecord, llm_model: str, llm_settings: Settings
) -> StressSession:
    """Runs stress modes against the target; each writes ``stress-<mode>-<id>.md/.json``."""
    config = request.config
    quiet = config.get_verbosity() < 0
    stress = StressSession(llm_server, llm_model, llm_settings, lambda: run_dir(config), quiet)
    config.stash[STRESS_KEY] = stress
    return stress
