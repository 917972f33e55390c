"""pytest hooks only: options, markers, settings, skips, header, xdist wiring, run summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.bench import YAML_SUFFIX, YamlTaskFile
from pytest_llmserver.discovery import ScanInputError
from pytest_llmserver.discovery_glue import (
    list_servers,
    models_for_all,
    resolve_target,
    stop_started_server,
)
from pytest_llmserver.fixtures import (
    DISCOVERY_KEY,
    NO_SERVER,
    RECORDER_KEY,
    RUN_DIR_KEY,
    SETTINGS_KEY,
    TARGET_KEY,
    TOOLBENCH_KEY,
    llm_arena,
    llm_client,
    llm_model,
    llm_server,
    llm_settings,
    llm_stress,
    llm_toolbench,
    recorder,
    run_dir,
)
from pytest_llmserver.report import choice_lines
from pytest_llmserver.run_glue import RunRecorder
from pytest_llmserver.servers import discovery_options
from pytest_llmserver.settings import OPTIONS, Settings, SettingsError
from pytest_llmserver.xdist_glue import make_shard_scheduler

__all__ = [
    "llm_arena",
    "llm_client",
    "llm_model",
    "llm_server",
    "llm_settings",
    "llm_stress",
    "llm_toolbench",
]

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
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "llm_run_dir" in workerinput:
        config.stash[RUN_DIR_KEY] = Path(workerinput["llm_run_dir"])  # the controller's
    workers = (
        config.getoption("numprocesses", None) if config.pluginmanager.hasplugin("xdist") else None
    )
    if (
        settings.shards > 1
        and workerinput is None
        and not (isinstance(workers, int) and workers >= settings.shards)
    ):
        raise pytest.UsageError(
            f"--llm-shards={settings.shards} needs at least {settings.shards} pytest-xdist "
            f"workers to run the shards together: add -n {settings.shards}"
        )


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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: workers write into this run's directory and use its server."""
    config = node.config
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.server is None:
        return
    node.workerinput["llm_run_dir"] = str(run_dir(config))
    target = config.stash.get(TARGET_KEY, None)
    if target is not None:
        node.workerinput["llm_target"] = target.to_dict()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--llm-shards`` with xdist's default distribution, keep shard k of every sharded
    test on one worker, each shard index on its own worker."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.shards < 2 or config.getoption("dist") != "load":
        return None
    return make_shard_scheduler(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: take in what the worker recorded."""
    exported = getattr(node, "workeroutput", {}).get("llm_results")
    if exported:
        recorder(node.config).absorb(exported)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the run's files (a worker hands its part to the controller instead); a regression
    or an unusable baseline makes the exit status non-zero even when every test passed."""
    config = session.config
    for bench in config.stash.get(TOOLBENCH_KEY, {}).values():
        bench.finalize()
    stop_started_server(config)
    recorder = config.stash.get(RECORDER_KEY, None)
    if recorder is None:
        return
    if is_xdist_worker(config):
        config.workeroutput["llm_results"] = recorder.export()  # type: ignore[attr-defined]
        return
    recorder.finish()
    if exitstatus == pytest.ExitCode.OK:
        if recorder.regressions:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif recorder.results.errors:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    recorder = terminalreporter.config.stash.get(RECORDER_KEY, None)
    if recorder is None or is_xdist_worker(terminalreporter.config):
        return
    results = recorder.results
    models = sorted({e["model"] for e in results.stress})
    for model in models:
        terminalreporter.section(f"stress: {model}")
        for entry in (e for e in results.stress if e["model"] == model):
            summary = entry["summary"]
            ttft = (summary["metrics"].get("ttft_s") or {}).get("p50")
            rps = summary["throughput"].get("requests_per_s")
            terminalreporter.write_line(
                f"{entry['mode']:<15} {entry['id']:<22} ok {summary['ok']:>5} "
                f"failed {summary['failed']:>4}  "
                f"req/s {'-' if rps is None else f'{rps:.2f}':>7}  "
                f"TTFT p50 {'-' if ttft is None else f'{ttft * 1e3:.1f} ms':>10}  "
                f"{recorder.run_dir / entry['report']}"
            )
    for bench in results.toolbench:
        terminalreporter.section(f"tool bench: {bench['model']}")
        for row in bench["summary"]:
            terminalreporter.write_line(
                f"{row['tier']:<10} {row['tasks']:>3} tasks  pass@1 {row['pass_at_1']:6.1%}  "
                f"pass^{bench['repeat']} {row['pass_all']:6.1%}"
            )
        terminalreporter.write_line(
            f"wall time {bench['wall_s']:.2f} s, concurrency {bench['concurrency']}"
        )
        reports = bench["report"] if isinstance(bench["report"], list) else [bench["report"]]
        shown = ", ".join(str(recorder.run_dir / r) for r in reports)
        terminalreporter.write_line(f"report: {shown}")
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
