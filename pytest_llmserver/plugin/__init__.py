"""The pytest plugin (entry point ``pytest11: pytest_llmserver``): hooks only. The fixtures
come from ``plugin.fixtures``; the xdist hooks are registered only when xdist is present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.plugin.arena import ArenaSession, check_arena
from pytest_llmserver.plugin.discovery import (
    list_servers,
    models_for_all,
    resolve_target,
    stop_started_server,
)
from pytest_llmserver.plugin.state import (
    DISCOVERY_KEY,
    NO_SERVER,
    RECORDER_KEY,
    SIGTERM_KEY,
    interrupt_on_sigterm,
    recorder,
    settings,
    shard_label,
    worker_id,
)
from pytest_llmserver.plugin.stress import ModeCall, StressSession
from pytest_llmserver.plugin.toolbench import (
    YAML_SUFFIX,
    ToolbenchSession,
    YamlTaskFile,
    finalize_all,
    task_param,
)
from pytest_llmserver.plugin.xdist import XdistHooks
from pytest_llmserver.report import choice_lines
from pytest_llmserver.run import display, export
from pytest_llmserver.settings import OPTIONS

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

pytest_plugins = ("pytest_llmserver.plugin.fixtures",)

SUITES_DIR = Path(__file__).parent.parent / "suites"

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
    "arena": "prompt and model arenas",
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
    if not settings(config).discovery.list:
        return None
    return list_servers(config)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    s = settings(config)
    given_paths = config.args_source != pytest.Config.ArgsSource.INVOCATION_DIR
    if s.target.server is not None:
        if not given_paths:
            config.args.append(str(SUITES_DIR))  # built-in suites run when no paths are given
        restore = interrupt_on_sigterm()
        if restore is not None:
            config.stash[SIGTERM_KEY] = restore
    workers = None
    if config.pluginmanager.hasplugin("xdist"):
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
    resolve_target(session.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if settings(metafunc.config).target.model != "all" or "llm_model" not in metafunc.fixturenames:
        return
    models = models_for_all(metafunc.config)
    if models:
        metafunc.parametrize("llm_model", models, indirect=True, scope="session", ids=models)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(YAML_SUFFIX):
        return YamlTaskFile.from_parent(parent, path=file_path)
    return None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    target = settings(config).target
    if target.server is None:
        return None
    server = target.server.url or target.server.mode
    lines = [f"llm-server: {server} (api {target.api}), model: {target.model or 'first'}"]
    discovery = config.stash.get(DISCOVERY_KEY, None)
    if discovery is not None:
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
    finalize_all(config)
    stop_started_server(config)
    run = config.stash.get(RECORDER_KEY, None)
    if run is None:
        return
    if worker_id(config) is not None:
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
        display(run, terminalreporter)
