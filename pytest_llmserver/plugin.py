"""pytest hooks only: options, markers, settings, skips, report header."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_llmserver.bench import YAML_SUFFIX, YamlTaskFile
from pytest_llmserver.fixtures import (
    NO_SERVER,
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
        group.addoption(
            spec.flag,
            dest="llm_" + spec.name,
            default=None,
            metavar=spec.metavar,
            help=f"{spec.help} (env {spec.env}, ini {spec.ini}{default})",
        )
        parser.addini(spec.ini, help=spec.help, default="")


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    try:
        settings = Settings.resolve(
            cli={spec.name: config.getoption("llm_" + spec.name) for spec in OPTIONS},
            env=os.environ,
            ini={spec.name: str(config.getini(spec.ini) or "") or None for spec in OPTIONS},
        )
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    if settings.server is not None and settings.server.mode == "auto":
        raise pytest.UsageError(
            "--llm-server=auto: network discovery is not available in this version; "
            "pass a URL, HOST:PORT, sim or local"
        )
    config.stash[SETTINGS_KEY] = settings
    if (
        settings.server is not None
        and config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR
    ):
        config.args.append(str(SUITES_DIR))  # built-in suites run when no paths are given


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(YAML_SUFFIX):
        return YamlTaskFile.from_parent(parent, path=file_path)
    return None


def pytest_report_header(config: pytest.Config) -> str | None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.server is None:
        return None
    server = settings.server.url or settings.server.mode
    return f"llm-server: {server} (api {settings.api}), model: {settings.model or 'first'}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    settings = item.config.stash.get(SETTINGS_KEY, None)
    if item.get_closest_marker("llm") and (settings is None or settings.server is None):
        pytest.skip(NO_SERVER)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    stress = terminalreporter.config.stash.get(STRESS_KEY, None)
    if stress is not None and stress.reports:
        terminalreporter.section("stress")
        for stats, path in stress.reports:
            ttft = stats.summary.metrics.ttft_s
            rps = stats.summary.throughput.requests_per_s
            terminalreporter.write_line(
                f"{stats.mode:<15} {stats.params.get('id', ''):<22} ok {stats.summary.ok:>5} "
                f"failed {stats.summary.failed:>4}  "
                f"req/s {'-' if rps is None else f'{rps:.2f}':>7}  "
                f"TTFT p50 {'-' if ttft is None else f'{ttft.p50 * 1e3:.1f} ms':>10}  {path}"
            )
    bench = terminalreporter.config.stash.get(TOOLBENCH_KEY, None)
    if bench is None or bench.run is None:
        return
    run = bench.run
    terminalreporter.section(f"tool bench: {run.model}")
    for row in run.summaries():
        terminalreporter.write_line(
            f"{row.tier:<10} {row.tasks:>3} tasks  pass@1 {row.pass_at_1:6.1%}  "
            f"pass^{run.repeat} {row.pass_all:6.1%}"
        )
    terminalreporter.write_line(f"wall time {run.wall_s:.2f} s, concurrency {run.concurrency}")
    if bench.report_paths:
        terminalreporter.write_line(f"report: {bench.report_paths[0]}")
