"""Finding the target before collection: ``--llm-server=auto`` discovery, a pinned URL probed
early for ``--llm-model=all``, ``--llm-list``, and the server an xdist controller starts once
for its workers."""

from __future__ import annotations

import contextlib
import sys
from contextlib import ExitStack

import pytest

from pytest_llmserver._util import ProgressLine, should_show_progress
from pytest_llmserver.client import LLMError, ServerRecord
from pytest_llmserver.discovery import Discovery, ScanInputError, ScanProgress
from pytest_llmserver.plugin.state import (
    DISCOVERY_KEY,
    SERVER_STACK_KEY,
    TARGET_KEY,
    recorder,
    settings,
    workerinput,
)
from pytest_llmserver.report import describe, scan_progress_text, server_table
from pytest_llmserver.servers import probe, run_discovery, serve, static_models


def _discover(config: pytest.Config, *, every_phase: bool) -> Discovery:
    quiet = config.get_verbosity() < 0
    line = ProgressLine(
        sys.stderr, enabled=should_show_progress(sys.stderr, quiet), min_interval_s=0.1
    )

    def show(progress: ScanProgress) -> None:
        line.show(scan_progress_text(progress), force=progress.done >= progress.total)

    try:
        return run_discovery(settings(config), show, every_phase=every_phase)
    except ScanInputError as exc:
        raise pytest.UsageError(str(exc)) from None
    finally:
        line.close(clear=True)


def resolve_target(config: pytest.Config) -> None:
    """Before collection: run discovery for ``auto``, probe a URL early for model ``all``; an
    xdist worker takes the controller's server, and an xdist controller starts ``sim`` /
    ``local`` once for all its workers."""
    s = settings(config)
    spec = s.target.server
    if spec is None:
        return
    given = (workerinput(config) or {}).get("llm_target")
    if given is not None:
        config.stash[TARGET_KEY] = ServerRecord.coerce(given)
        return
    if spec.mode in ("sim", "local") and config.pluginmanager.hasplugin("dsession"):
        stack = ExitStack()
        try:
            config.stash[TARGET_KEY] = stack.enter_context(serve(s))
        except (LLMError, RuntimeError) as exc:
            stack.close()
            raise pytest.UsageError(f"LLM server: {exc}") from None
        config.stash[SERVER_STACK_KEY] = stack
    elif spec.mode == "auto":
        discovery = _discover(config, every_phase=False)
        config.stash[DISCOVERY_KEY] = discovery
        if discovery.chosen is not None:
            config.stash[TARGET_KEY] = discovery.chosen
    elif spec.mode == "url" and s.target.model == "all":
        # On failure the llm_server fixture probes again and fails each test with the reason.
        with contextlib.suppress(LLMError):
            config.stash[TARGET_KEY] = probe(s)


def stop_started_server(config: pytest.Config) -> None:
    """Stop a server ``resolve_target`` started for xdist workers."""
    stack = config.stash.get(SERVER_STACK_KEY, None)
    if stack is not None:
        del config.stash[SERVER_STACK_KEY]
        stack.close()


def models_for_all(config: pytest.Config) -> list[str]:
    """The models ``--llm-model=all`` runs over (empty when the server is unknown)."""
    known = static_models(settings(config))
    if known is not None:
        return known
    record = config.stash.get(TARGET_KEY, None)
    return [] if record is None else list(record.models)


def list_servers(config: pytest.Config) -> int:
    """``--llm-list``: print every server found (or the pinned one), redacted; the exit code."""
    s = settings(config)
    redact = recorder(config).redactor.text
    if s.target.server is not None and s.target.server.mode == "url":
        try:
            print(redact(describe(probe(s))))
        except LLMError as exc:
            print(redact(f"{s.target.server.url}: {exc}"))
            return 1
        return 0
    discovery = _discover(config, every_phase=True)
    for line in server_table(discovery):
        print(redact(line))
    return 0 if discovery.servers else 1
