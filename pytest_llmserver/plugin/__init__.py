"""The pytest plugin (entry point ``pytest11: pytest_llmserver``): hooks only. The fixtures
come from ``plugin.fixtures``; the xdist hooks are registered only when xdist is present.

Registering the plugin loads only the options, the settings and the plugin's state: every hook
imports the engines it needs when there is work for them (a server, a YAML task file, xdist)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmserver._lazy import lazy_face
from pytest_llmserver.plugin.builtin import SUITES_DIR, choose, in_suites, wanted
from pytest_llmserver.plugin.state import (
    BUILTIN_KEY,
    DISCOVERY_KEY,
    NO_SERVER,
    RECORDER_KEY,
    SERVER_STACK_KEY,
    SESSIONS_KEY,
    SIGTERM_KEY,
    YAML_SUFFIX,
    interrupt_on_sigterm,
    recorder,
    settings,
    shard_label,
    worker_id,
)
from pytest_llmserver.settings import OPTIONS

if TYPE_CHECKING:
    from pytest_llmserver.plugin.arena import ArenaSession, check_arena
    from pytest_llmserver.plugin.stress import ModeCall, StressSession
    from pytest_llmserver.plugin.toolbench import ToolbenchSession, task_param

__all__ = [
    "ArenaSession",
    "ModeCall",
    "StressSession",
    "ToolbenchSession",
    "check_arena",
    "settings",
    "shard_label",
    "task_param",
]

if not TYPE_CHECKING:
    # No __dir__: pytest reads every name dir() lists when it registers the plugin.
    __getattr__, _ = lazy_face(
        __name__,
        {
            "arena": "ArenaSession check_arena",
            "stress": "ModeCall StressSession",
            "toolbench": "ToolbenchSession task_param",
        },
    )

pytest_plugins = ("pytest_llmserver.plugin.fixtures",)

MARKERS = {
    "llm": "needs an LLM server (skipped without --llm-server)",
    "toolbench": "agentic tool-calling benchmark task",
    "quick": "tool-bench smoke tier",
    "hard": "tool-bench hard tier",
    "brutal": "tool-bench brutal tier",
    "realistic": "tool-bench realistic tier",
    "extreme": "tool-bench extreme tier",
    "stress": "any stress mode",
    "throughput": "stress: concurrent burst",
    "token_stress": "stress: prompt-length sweep",
    "sustained": "stress: fixed rate for a duration",
    "consistency": "stress: one prompt repeated",
    "realistic_user": "stress: Poisson multi-turn users",
    "sweep": "stress: c=1, saturation and open-loop rates between",
    "capacity": "stress: highest rate meeting --llm-slo (runs only with it)",
    "arena": "prompt and model arenas",
}
USER_MARKERS = {  # the user's own; not markers of the built-in suites
    "llm_stress": '(mode="throughput", concurrency=8, ...): your own stress test; the llm_stress '
    "fixture runs that mode and returns its TestStats",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmserver", "LLM server benchmarking (pytest-llmserver)")
    for spec in OPTIONS:
        default = f"; default {spec.default}" if spec.default else ""
        extra: dict[str, Any] = {} if spec.action == "store_true" else {"metavar": spec.metavar}
        action = spec.action
        if action == "optional":
            action, extra["nargs"], extra["const"] = "store", "?", "auto"
        group.addoption(
            spec.flag,
            dest="llm_" + spec.name,
            default=None,
            action=action,
            help=f"{spec.help} (env {spec.env}, ini {spec.ini}{default})",
            **extra,
        )
        parser.addini(spec.ini, help=spec.help, default="")


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if settings(config).target.server is not None:
        from pytest_llmserver.plugin.progress import quiet_benchmark_tables

        quiet_benchmark_tables(config)
    if not settings(config).discovery.list:
        return None
    from pytest_llmserver.plugin.discovery import list_servers

    return list_servers(config)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    for name, text in USER_MARKERS.items():
        config.addinivalue_line("markers", f"{name}{text}")
    s = settings(config)
    if s.target.server is not None:
        config.args[:], config.stash[BUILTIN_KEY] = choose(
            s.run.builtin,
            list(config.args),
            config.invocation_params.dir,
            pyargs=bool(config.option.pyargs),
            markexpr=config.option.markexpr or "",
            keyword=config.option.keyword or "",
            markers=list(MARKERS),
        )
        restore = interrupt_on_sigterm()
        if restore is not None:
            config.stash[SIGTERM_KEY] = restore
    workers = None
    if config.pluginmanager.hasplugin("xdist"):
        from pytest_llmserver.plugin.xdist import XdistHooks

        config.pluginmanager.register(XdistHooks(), "llmserver-xdist")
        workers = config.getoption("numprocesses", None)
    shards = s.stress.shards
    enough = isinstance(workers, int) and workers >= shards
    if shards > 1 and worker_id(config) is None and not enough:
        raise pytest.UsageError(
            f"--llm-shards={shards} needs at least {shards} pytest-xdist "
            f"workers to run the shards together: add -n {shards}"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    restore = config.stash.get(SIGTERM_KEY, None)
    if restore is not None:
        restore()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if settings(session.config).target.server is not None:
        from pytest_llmserver.plugin.discovery import resolve_target

        resolve_target(session.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if settings(metafunc.config).target.model != "all" or "llm_model" not in metafunc.fixturenames:
        return
    from pytest_llmserver.plugin.discovery import models_for_all

    models = models_for_all(metafunc.config)
    if models:
        metafunc.parametrize("llm_model", models, indirect=True, scope="session", ids=models)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(YAML_SUFFIX):
        from pytest_llmserver.plugin.toolbench import YamlTaskFile

        return YamlTaskFile.from_parent(parent, path=file_path)
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave out a built-in test module the run does not ask for (``--llm-builtin``)."""
    choice = config.stash.get(BUILTIN_KEY, None)
    if choice is None or collection_path.parent != SUITES_DIR:
        return None
    if choice.ids and not any(i.partition("::")[0] == collection_path.name for i in choice.ids):
        return True
    if choice.drop() and collection_path.name.startswith("test_"):
        return True
    return None  # pytest's own rules (--ignore, collect_ignore) still decide


def pytest_itemcollected(item: pytest.Item) -> None:
    choice = item.config.stash.get(BUILTIN_KEY, None)
    if choice is not None and not in_suites(item.path):
        choice.user_tests += 1


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the built-ins a run leaves out but collected (inside a given folder, before
    the user's tests were seen), and those not among pasted-back ids."""
    choice = config.stash.get(BUILTIN_KEY, None)
    if choice is None or not (choice.drop() or choice.ids):
        return
    dropped = [
        item
        for item in items
        if in_suites(item.path)
        and (choice.drop() or not wanted(item.nodeid, item.path, choice.ids))
    ]
    if dropped:
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]
        config.hook.pytest_deselected(items=dropped)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Check the target once, before the first test, when a collected test needs it."""
    if BUILTIN_KEY in session.config.stash:
        from pytest_llmserver.plugin.discovery import check_target

        check_target(session)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    target = settings(config).target
    if target.server is None:
        return None
    server = target.server.url or target.server.mode
    lines = [f"llm-server: {server} (api {target.api}), model: {target.model or 'first'}"]
    discovery = config.stash.get(DISCOVERY_KEY, None)
    if discovery is not None:
        from pytest_llmserver.report import choice_lines

        lines += choice_lines(discovery)
    return [recorder(config).redactor.text(line) for line in lines]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failure message is redacted like everything else the run writes or prints."""
    report = yield
    if isinstance(report.longrepr, str) and settings(item.config).target.server is not None:
        report.longrepr = recorder(item.config).redactor.text(report.longrepr)
    return report


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("llm") and settings(item.config).target.server is None:
        pytest.skip(NO_SERVER)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the run's files (a worker hands its part to the controller instead); a regression
    or an unusable baseline makes the exit status non-zero even when every test passed."""
    config = session.config
    if SESSIONS_KEY in config.stash:
        from pytest_llmserver.plugin.toolbench import finalize_all

        finalize_all(config)
    if SERVER_STACK_KEY in config.stash:
        from pytest_llmserver.plugin.discovery import stop_started_server

        stop_started_server(config)
    run = config.stash.get(RECORDER_KEY, None)
    if run is None:
        return
    if worker_id(config) is not None:
        from pytest_llmserver.run import export

        config.workeroutput["llm_results"] = export(run)  # type: ignore[attr-defined]
        return
    run.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
    if exitstatus == pytest.ExitCode.OK:
        if run.gate.regressions:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif run.results.errors:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    run = terminalreporter.config.stash.get(RECORDER_KEY, None)
    if run is not None and worker_id(terminalreporter.config) is None:
        from pytest_llmserver.run import display

        display(run, terminalreporter)
