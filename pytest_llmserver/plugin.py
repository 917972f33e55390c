"""pytest hooks only: options, markers, settings, skips, report header."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.bench import YAML_SUFFIX, YamlTaskFile
from pytest_llmserver.discovery import ScanInputError
from pytest_llmserver.discovery_glue import list_servers, models_for_all, resolve_target
from pytest_llmserver.fixtures import (
    DISCOVERY_KEY,
    NO_SERVER,
    RECORDER_KEY,
    SETTINGS_KEY,
    STRESS_KEY,
    TOOLBENCH_KEY,
    llm_client,
    llm_model,
    llm_server,
    llm_settings,
    llm_stress,
    llm_toolbench,
)
from pytest_llmserver.launch import discovery_options
from pytest_llmserver.report.discovery import choice_lines
from pytest_llmserver.run_glue import RunRecorder
from pytest_llmserver.settings import OPTIONS, Settings, SettingsError

__all__ = ["llm_client", "llm_model", "llm_server", "llm_settings", "llm_stress", "llm_toolbench"]

SUITES_DIR = Path(__file__).with_name("suites")

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


def _cli_value(value: object) -> str | None:
    """An option's command-line value as text (lists joined, flags as ``true``)."""
    if value is None or value is False:
        return None
    if value is True:
        return "true"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _settings(config: pytest.Config) -> Settings:
    """The run's settings, resolved once; bad values are usage errors."""
    if SETTINGS_KEY not in config.stash:
        try:
            settings = Settings.resolve(
                cli={s.name: _cli_value(config.getoption("llm_" + s.name)) for s in OPTIONS},
                env=os.environ,
                ini={s.name: str(config.getini(s.ini) or "") or None for s in OPTIONS},
            )
            discovery_options(settings)  # a subnet over the host cap is a usage error too
        except (SettingsError, ScanInputError) as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[SETTINGS_KEY] = settings
    return config.stash[SETTINGS_KEY]


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not _settings(config).list_servers:
        return None
    return list_servers(config)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    settings = _settings(config)
    if (
        settings.server is not None
        and config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR
    ):
        config.args.append(str(SUITES_DIR))  # built-in suites run when no paths are given


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    resolve_target(session.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    settings = metafunc.config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.model != "all" or "llm_model" not in metafunc.fixturenames:
        return
    models = models_for_all(metafunc.config)
    if models:
        metafunc.parametrize("llm_model", models, indirect=True, scope="session", ids=models)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(YAML_SUFFIX):
        return YamlTaskFile.from_parent(parent, path=file_path)
    return None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.server is None:
        return None
    server = settings.server.url or settings.server.mode
    lines = [f"llm-server: {server} (api {settings.api}), model: {settings.model or 'first'}"]
    discovery = config.stash.get(DISCOVERY_KEY, None)
    if discovery is not None:
        lines += choice_lines(discovery)
    return lines


def pytest_runtest_setup(item: pytest.Item) -> None:
    settings = item.config.stash.get(SETTINGS_KEY, None)
    if item.get_closest_marker("llm") and (settings is None or settings.server is None):
        pytest.skip(NO_SERVER)


def is_xdist_worker(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist worker."""
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the run's files; a regression or an unusable baseline makes the exit status
    non-zero even when every test passed."""
    recorder = session.config.stash.get(RECORDER_KEY, None)
    if recorder is None or is_xdist_worker(session.config):
        return
    recorder.finish()
    if exitstatus == pytest.ExitCode.OK:
        if recorder.regressions:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif recorder.results.errors:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    for model, stress in config.stash.get(STRESS_KEY, {}).items():
        if stress.reports:
            terminalreporter.section(f"stress: {model}")
        for stats, path in stress.reports:
            ttft = stats.summary.metrics.ttft_s
            rps = stats.summary.throughput.requests_per_s
            terminalreporter.write_line(
                f"{stats.mode:<15} {stats.params.get('id', ''):<22} ok {stats.summary.ok:>5} "
                f"failed {stats.summary.failed:>4}  "
                f"req/s {'-' if rps is None else f'{rps:.2f}':>7}  "
                f"TTFT p50 {'-' if ttft is None else f'{ttft.p50 * 1e3:.1f} ms':>10}  {path}"
            )
    for bench in config.stash.get(TOOLBENCH_KEY, {}).values():
        run = bench.run
        if run is None:
            continue
        terminalreporter.section(f"tool bench: {run.model}")
        for row in run.summaries():
            terminalreporter.write_line(
                f"{row.tier:<10} {row.tasks:>3} tasks  pass@1 {row.pass_at_1:6.1%}  "
                f"pass^{run.repeat} {row.pass_all:6.1%}"
            )
        terminalreporter.write_line(f"wall time {run.wall_s:.2f} s, concurrency {run.concurrency}")
        if bench.report_paths:
            terminalreporter.write_line(f"report: {bench.report_paths[0]}")
    recorder = config.stash.get(RECORDER_KEY, None)
    if recorder is not None:
        _write_run_summary(terminalreporter, recorder)


def _write_run_summary(reporter: pytest.TerminalReporter, recorder: RunRecorder) -> None:
    if recorder.settings.baseline is not None:
        reporter.section("compared with the baseline")
        for update in recorder.model_updates:
            reporter.write_line(f"model updated: {update}", yellow=True, bold=True)
        for line in recorder.comparison_lines:
            reporter.write_line(line)
        for line in recorder.regressions:
            reporter.write_line(f"REGRESSION {line}", red=True)
    for error in recorder.results.errors:
        reporter.write_line(f"ERROR: {error}", red=True)
    for path in recorder.saved_baselines:
        reporter.write_line(f"baseline saved: {path}")
    if recorder.results.run_id:
        reporter.write_line(f"run summary: {recorder.run_dir / 'summary.md'}")
