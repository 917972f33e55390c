"""The fixtures: ``llm_settings``, ``llm_server``, ``llm_model``, ``llm_client``, and the
sessions ``llm_toolbench``, ``llm_stress``, ``llm_arena`` over ``llm_target``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from pytest_llmserver.plugin.state import (
    DISCOVERY_KEY,
    NO_SERVER,
    SESSIONS_KEY,
    TARGET_KEY,
    model_dir,
    recorder,
    settings,
    worker_id,
)
from pytest_llmserver.settings import Settings

if TYPE_CHECKING:
    from pytest_llmserver.client import ModelClient, ServerRecord
    from pytest_llmserver.plugin.arena import ArenaSession
    from pytest_llmserver.plugin.sessions import Target
    from pytest_llmserver.plugin.stress import StressSession
    from pytest_llmserver.plugin.toolbench import ToolbenchSession
    from pytest_llmserver.stress import TestStats

__all__ = [
    "llm_arena",
    "llm_client",
    "llm_model",
    "llm_server",
    "llm_settings",
    "llm_stress",
    "llm_target",
    "llm_toolbench",
]


_LOOP_SCOPE_INI = "asyncio_default_fixture_loop_scope"
SLOTS_KEY = pytest.StashKey[dict[str, "int | None"]]()
"""The parallel slots of each server probed this run (None: it did not say)."""
STRESS_FAILURE_KEY = pytest.StashKey[BaseException]()
"""A marked test's failed stress run (an SLO miss, a regression), raised as its result."""
MARKER = "llm_stress"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Give pytest-asyncio's fixture loop scope a value when the user left it unset, so that
    its deprecation warning does not greet every run: ``fixture-scope`` (today's behaviour)
    where pytest-asyncio knows it (1.5 on), else ``function`` (the plugin's async fixture is
    function-scoped). Runs before pytest-asyncio reads it; a value the user set is kept."""
    if not config.pluginmanager.hasplugin("asyncio") or config.getini(_LOOP_SCOPE_INI):
        return
    version = tuple(int(p) for p in pytest_asyncio.__version__.split(".")[:2] if p.isdigit())
    scope = "fixture-scope" if version >= (1, 5) else "function"
    # pytest has no public setter for another plugin's ini value; getini reads this cache.
    config._inicache[_LOOP_SCOPE_INI] = scope


@pytest.fixture(scope="session")
def llm_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved options of this run."""
    return settings(pytestconfig)


@pytest.fixture(scope="session")
def llm_server(pytestconfig: pytest.Config, llm_settings: Settings) -> Iterator[ServerRecord]:
    """The server under test: discovered, probed, or started for the session (sim, local)."""
    if llm_settings.target.server is None:
        pytest.skip(NO_SERVER)
    from pytest_llmserver.client import LLMError  # the engines load only when a test needs them
    from pytest_llmserver.servers import serve

    discovery = pytestconfig.stash.get(DISCOVERY_KEY, None)
    if discovery is not None and discovery.chosen is None:
        notes = "".join(f"; {note}" for note in discovery.notes)
        message = f"--llm-server=auto found no LLM server: {discovery.summary()}{notes}"
        pytest.fail(message, pytrace=False)
    started = False
    try:
        with serve(llm_settings, pytestconfig.stash.get(TARGET_KEY, None)) as record:
            started = True
            yield record
    except (LLMError, RuntimeError) as exc:
        if started:
            pytest.fail(f"LLM server: {exc}", pytrace=False)
        # sim and local start here, at the first test that needs them: one line, and stop
        line = " ".join(recorder(pytestconfig).redactor.text(str(exc)).split())
        pytest.exit(f"pytest-llmserver: {line}", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def llm_model(
    request: pytest.FixtureRequest, llm_server: ServerRecord, llm_settings: Settings
) -> str:
    """The model under test: ``--llm-model`` (each in turn for ``all``), else the simulator's
    tool-calling default against ``sim``, else the first listed."""
    from pytest_llmserver.client import LLMError, select_model

    requested = getattr(request, "param", llm_settings.target.model)
    spec = llm_settings.target.server
    if requested is None and spec is not None and spec.mode == "sim":
        from pytest_llmserver.servers import SIM_DEFAULT_MODEL

        requested = SIM_DEFAULT_MODEL
    if requested == "all":
        pytest.fail(f"--llm-model=all: {llm_server.url} lists no models", pytrace=False)
    try:
        return select_model(llm_server, requested)
    except LLMError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest_asyncio.fixture
async def llm_client(llm_target: Target) -> AsyncIterator[ModelClient]:
    """A ready ``ModelClient`` for the server and model under test."""
    async with llm_target.client(max_tokens=llm_target.settings.run.max_tokens) as client:
        yield client


@pytest.fixture(scope="session")
def llm_target(
    request: pytest.FixtureRequest, llm_server: ServerRecord, llm_model: str, llm_settings: Settings
) -> Target:
    """The server and model under test with the run's settings and recorder; a llama.cpp
    server's parallel slots are the concurrency when ``--llm-concurrency`` was not given."""
    from pytest_llmserver.plugin.sessions import Target, slot_concurrency

    config = request.config
    run_recorder = recorder(config)
    given = _concurrency_given(config)
    cache = config.stash.setdefault(SLOTS_KEY, {})
    if not given and llm_server.url not in cache:
        cache[llm_server.url] = slot_concurrency(llm_server, llm_settings)
    slots = None if given else cache[llm_server.url]
    chosen = llm_settings
    notes: tuple[str, ...] = ()
    if slots is not None:
        chosen = replace(llm_settings, run=replace(llm_settings.run, concurrency=slots))
        notes = (f"concurrency {slots} = the server's slots (--llm-concurrency=N to change)",)
        run_recorder.results.settings["concurrency"] = slots
        run_recorder.logger.info("%s", notes[0])
    return Target(
        llm_server,
        llm_model,
        chosen,
        run_recorder,
        lambda: model_dir(config, llm_model),
        notes,
    )


def _concurrency_given(config: pytest.Config) -> bool:
    """Whether the user set ``--llm-concurrency`` (flag, environment or ini)."""
    return bool(
        config.getoption("llm_concurrency", None)
        or os.environ.get("LLM_CONCURRENCY")
        or config.getini("llm_concurrency")
    )


@pytest.fixture(scope="session")
def llm_toolbench(request: pytest.FixtureRequest, llm_target: Target) -> ToolbenchSession:
    """Runs the session's selected tool-bench tasks together; tests check their own result."""
    from pytest_llmserver.plugin.toolbench import ToolbenchSession, task_of

    tasks = [t for t in (task_of(item) for item in request.session.items) if t is not None]
    unique = list({task.task_id: task for task in tasks}.values())
    worker = worker_id(request.config)
    bench = ToolbenchSession(
        unique,
        llm_target,
        per_task=worker is not None,
        report_name="toolbench" if worker is None else f"toolbench-{worker}",
    )
    request.config.stash.setdefault(SESSIONS_KEY, {})[llm_target.model] = bench
    return bench


@pytest.fixture(scope="session")
def _llm_stress_session(request: pytest.FixtureRequest, llm_target: Target) -> StressSession:
    """The run's one ``StressSession`` for the target (its client capacity calibrated once)."""
    from pytest_llmserver.plugin.stress import StressSession

    return StressSession(llm_target, quiet=request.config.get_verbosity() < 0)


@pytest.fixture
def llm_stress(
    request: pytest.FixtureRequest, _llm_stress_session: StressSession
) -> StressSession | TestStats:
    """Runs stress modes against the target; each writes ``stress-<mode>-<id>.md/.json``.

    A test marked ``@pytest.mark.llm_stress(mode=..., **kwargs)`` gets its run's ``TestStats``
    instead: the mode runs with the marker's arguments (the rest from the ``--llm-*``
    options), is reported and checked like a built-in one; a failed check fails the test."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return _llm_stress_session
    from pytest_llmserver.plugin.marker import MarkerError, parse_marker

    node = request.node
    try:
        spec = parse_marker(marker.args, marker.kwargs, node.path.parent)
    except MarkerError as exc:  # checked at collection already; kept for direct calls
        pytest.fail(f"{node.nodeid}: @pytest.mark.{MARKER}: {exc}", pytrace=False)
    session = _llm_stress_session
    try:
        return session.run(
            spec.call(session.target.settings),
            spec.run_id(node.name),
            request,
            overrides=spec.overrides,
        )
    except pytest.fail.Exception as exc:  # the run's verdict fails the test, not its setup:
        node.stash[STRESS_FAILURE_KEY] = exc  # raised before the test's body runs
        return session


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A marked test whose stress run failed its checks fails here, before its body runs."""
    failure = item.stash.get(STRESS_FAILURE_KEY, None)
    if failure is not None:
        raise failure


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every ``llm_stress`` marker before the run starts (a bad one is a usage error
    naming the test), and mark those tests ``llm``, ``stress`` and their mode, so ``-m``
    selects them like the built-in stress tests."""
    marked = [(item, item.get_closest_marker(MARKER)) for item in items]
    if not any(marker for _, marker in marked):
        return
    from pytest_llmserver.plugin.marker import MarkerError, parse_marker

    for item, marker in marked:
        if marker is None:
            continue
        try:
            if "llm_stress" not in getattr(item, "fixturenames", ()):
                raise MarkerError("the test does not take the llm_stress fixture that runs it")
            spec = parse_marker(marker.args, marker.kwargs, item.path.parent)
        except MarkerError as exc:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}: {exc}") from None
        for name in ("llm", "stress", spec.mode):
            item.add_marker(name)


@pytest.fixture(scope="session")
def llm_arena(llm_target: Target) -> ArenaSession:
    """Runs the prompt and model arenas; each writes ``arena-<kind>.md/.json``."""
    from pytest_llmserver.plugin.arena import ArenaSession

    return ArenaSession(llm_target)
