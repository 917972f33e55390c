"""pytest glue of discovery: resolve ``auto`` before collection, ``--llm-list``, model ``all``."""

from __future__ import annotations

import contextlib
import sys
import time
from contextlib import ExitStack
from typing import TextIO

import pytest

from pytest_llmserver.client import LLMError
from pytest_llmserver.discovery import Discovery, ScanInputError, ScanProgress
from pytest_llmserver.fixtures import DISCOVERY_KEY, SETTINGS_KEY, TARGET_KEY
from pytest_llmserver.launch import probe, run_discovery, serve, static_models
from pytest_llmserver.report.discovery import describe, progress_text, server_table
from pytest_llmserver.settings import Settings
from pytest_llmserver.target import ServerRecord

SERVER_STACK_KEY = pytest.StashKey[ExitStack]()


class ProgressLine:
    """Rewrites one terminal line with discovery progress, at most every ``interval_s``."""

    def __init__(self, out: TextIO, interval_s: float = 0.1) -> None:
        self._out = out
        self._interval_ns = int(interval_s * 1e9)
        self._last_ns = 0
        self._width = 0

    def __call__(self, progress: ScanProgress) -> None:
        now_ns = time.perf_counter_ns()
        if progress.done < progress.total and now_ns - self._last_ns < self._interval_ns:
            return
        self._last_ns = now_ns
        text = progress_text(progress)
        self._out.write("\r" + text.ljust(self._width))
        self._out.flush()
        self._width = len(text)

    def close(self) -> None:
        """Clear the line."""
        if self._width:
            self._out.write("\r" + " " * self._width + "\r")
            self._out.flush()


def _progress(config: pytest.Config) -> ProgressLine | None:
    """A progress line on stderr when it is a terminal and the run is not quiet."""
    if config.get_verbosity() < 0 or not sys.stderr.isatty():
        return None
    return ProgressLine(sys.stderr)


def _discover(config: pytest.Config, settings: Settings, *, every_phase: bool) -> Discovery:
    line = _progress(config)
    try:
        return run_discovery(settings, line, every_phase=every_phase)
    except ScanInputError as exc:
        raise pytest.UsageError(str(exc)) from None
    finally:
        if line is not None:
            line.close()


def resolve_target(config: pytest.Config) -> None:
    """Before collection: run discovery for ``auto``, probe a URL early for model ``all``; an
    xdist worker takes the controller's server, and an xdist controller starts ``sim`` /
    ``local`` once for all its workers."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.server is None:
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "llm_target" in workerinput:
        config.stash[TARGET_KEY] = ServerRecord.coerce(workerinput["llm_target"])
        return
    if settings.server.mode in ("sim", "local") and config.pluginmanager.hasplugin("dsession"):
        stack = ExitStack()
        try:
            config.stash[TARGET_KEY] = stack.enter_context(serve(settings))
        except (LLMError, RuntimeError) as exc:
            stack.close()
            raise pytest.UsageError(f"LLM server: {exc}") from None
        config.stash[SERVER_STACK_KEY] = stack
    elif settings.server.mode == "auto":
        discovery = _discover(config, settings, every_phase=False)
        config.stash[DISCOVERY_KEY] = discovery
        if discovery.chosen is not None:
            config.stash[TARGET_KEY] = discovery.chosen
    elif settings.server.mode == "url" and settings.model == "all":
        # On failure the llm_server fixture probes again and fails each test with the reason.
        with contextlib.suppress(LLMError):
            config.stash[TARGET_KEY] = probe(settings)


def stop_started_server(config: pytest.Config) -> None:
    """Stop a server ``resolve_target`` started for xdist workers."""
    stack = config.stash.get(SERVER_STACK_KEY, None)
    if stack is not None:
        del config.stash[SERVER_STACK_KEY]
        stack.close()


def models_for_all(config: pytest.Config) -> list[str]:
    """The models ``--llm-model=all`` runs over (empty when the server is unknown)."""
    settings = config.stash[SETTINGS_KEY]
    known = static_models(settings)
    if known is not None:
        return known
    record = config.stash.get(TARGET_KEY, None)
    return [] if record is None else list(record.models)


def list_servers(config: pytest.Config) -> int:
    """``--llm-list``: print every server found (or the pinned one); the exit code."""
    settings = config.stash[SETTINGS_KEY]
    write = print
    if settings.server is not None and settings.server.mode == "url":
        try:
            write(describe(probe(settings)))
        except LLMError as exc:
            write(f"{settings.server.url}: {exc}")
            return 1
        return 0
    discovery = _discover(config, settings, every_phase=True)
    for line in server_table(discovery):
        write(line)
    return 0 if discovery.servers else 1
