"""Fixtures over the plain APIs: ``llm_settings``, ``llm_server``, ``llm_model``, ``llm_client``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from pytest_llmserver import __version__
from pytest_llmserver._util import slug
from pytest_llmserver.arena_glue import ArenaSession
from pytest_llmserver.bench import ToolbenchSession, task_of
from pytest_llmserver.client import LLMError, ModelClient, ServerRecord, Timeouts, select_model
from pytest_llmserver.discovery import Discovery
from pytest_llmserver.report import make_run_dir
from pytest_llmserver.run_glue import RunRecorder
from pytest_llmserver.servers import serve
from pytest_llmserver.settings import Settings
from pytest_llmserver.stress_glue import StressSession

SETTINGS_KEY = pytest.StashKey[Settings]()
RUN_DIR_KEY = pytest.StashKey[Path]()
TOOLBENCH_KEY = pytest.StashKey[dict[str, ToolbenchSession]]()
DISCOVERY_KEY = pytest.StashKey[Discovery]()
RECORDER_KEY = pytest.StashKey[RunRecorder]()
TARGET_KEY = pytest.StashKey[ServerRecord]()
NO_SERVER = (
    "needs an LLM server: pass --llm-server=auto|URL|HOST:PORT|sim|local "
    "(or set LLM_SERVER, or ini llm_server)"
)


@pytest.fixture(scope="session")
def llm_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved options of this run."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def llm_server(pytestconfig: pytest.Config, llm_settings: Settings) -> Iterator[ServerRecord]:
    """The server under test: discovered, probed, or started for the session (sim, local)."""
    if llm_settings.server is None:
        pytest.skip(NO_SERVER)
    discovery = pytestconfig.stash.get(DISCOVERY_KEY, None)
    if discovery is not None and discovery.chosen is None:
        notes = "".join(f"; {note}" for note in discovery.notes)
        message = f"--llm-server=auto found no LLM server: {discovery.summary()}{notes}"
        pytest.fail(message, pytrace=False)
    try:
        with serve(llm_settings, pytestconfig.stash.get(TARGET_KEY, None)) as record:
            yield record
    except (LLMError, RuntimeError) as exc:
        pytest.fail(f"LLM server: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def llm_model(
    request: pytest.FixtureRequest, llm_server: ServerRecord, llm_settings: Settings
) -> str:
    """The model under test: ``--llm-model`` (each in turn for ``all``), else the first listed."""
    requested = getattr(request, "param", llm_settings.model)
    if requested == "all":
        pytest.fail(f"--llm-model=all: {llm_server.url} lists no models", pytrace=False)
    try:
        return select_model(llm_server, requested)
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


def xdist_worker_id(config: pytest.Config) -> str | None:
    """``gw0``, ``gw1`` ... on a pytest-xdist worker; None elsewhere."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput.get("workerid", "gw"))


def run_dir(config: pytest.Config) -> Path:
    """This session's report directory, made on first use."""
    if RUN_DIR_KEY not in config.stash:
        config.stash[RUN_DIR_KEY] = make_run_dir(config.stash[SETTINGS_KEY].logs_dir)
    return config.stash[RUN_DIR_KEY]


def recorder(config: pytest.Config) -> RunRecorder:
    """The session's ``RunRecorder`` (made on first use; its run directory only when needed)."""
    if RECORDER_KEY not in config.stash:
        config.stash[RECORDER_KEY] = RunRecorder(
            config.stash[SETTINGS_KEY],
            lambda: run_dir(config),
            __version__,
            config.invocation_params.dir,
            worker=xdist_worker_id(config) is not None,
        )
    return config.stash[RECORDER_KEY]


def model_dir(config: pytest.Config, model: str) -> Path:
    """Where a model's reports go: the run directory, or a folder per model under
    ``--llm-model=all``."""
    base = run_dir(config)
    if config.stash[SETTINGS_KEY].model != "all":
        return base
    folder = base / slug(model, default="model")
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def llm_toolbench(
    request: pytest.FixtureRequest, llm_server: ServerRecord, llm_model: str, llm_settings: Settings
) -> ToolbenchSession:
    """Runs the session's selected tool-bench tasks together; tests check their own result."""
    tasks = [t for t in (task_of(item) for item in request.session.items) if t is not None]
    unique = list({task.task_id: task for task in tasks}.values())
    config = request.config
    worker = xdist_worker_id(config)
    bench = ToolbenchSession(
        unique,
        llm_server,
        llm_model,
        llm_settings,
        recorder(config),
        lambda: model_dir(config, llm_model),
        per_task=worker is not None,
        report_name="toolbench" if worker is None else f"toolbench-{worker}",
    )
    config.stash.setdefault(TOOLBENCH_KEY, {})[llm_model] = bench
    return bench


@pytest.fixture(scope="session")
def llm_stress(
    request: pytest.FixtureRequest, llm_server: ServerRecord, llm_model: str, llm_settings: Settings
) -> StressSession:
    """Runs stress modes against the target; each writes ``stress-<mode>-<id>.md/.json``."""
    config = request.config
    quiet = config.get_verbosity() < 0
    stress = StressSession(
        llm_server,
        llm_model,
        llm_settings,
        recorder(config),
        lambda: model_dir(config, llm_model),
        quiet,
    )
    return stress


@pytest.fixture(scope="session")
def llm_arena(
    request: pytest.FixtureRequest, llm_server: ServerRecord, llm_model: str, llm_settings: Settings
) -> ArenaSession:
    """Runs the prompt and model arenas; each writes ``arena-<kind>.md/.json``."""
    config = request.config
    return ArenaSession(
        llm_server, llm_model, llm_settings, recorder(config), lambda: model_dir(config, llm_model)
    )
