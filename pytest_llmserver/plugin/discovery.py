"""Finding the target before collection: ``--llm-server=auto`` discovery, a pinned URL probed
early for ``--llm-model=all``, ``--llm-list``, and the server an xdist controller starts once
for its workers."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from contextlib import ExitStack
from urllib.parse import urlsplit, urlunsplit

import pytest

from pytest_llmserver._util import ProgressLine, redact_url, should_show_progress
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
    if config.pluginmanager.hasplugin("dsession"):
        stop_on_problem(config)  # the workers collect; the controller checks for them


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


# The target checked once, before the first test -----------------------------------------

_ORIGIN = re.compile(r"^[a-zA-Z][\w+.-]*://[^/]*")
_TARGET_FIXTURE = "llm_server"  # every fixture that talks to the target depends on it


def _needs_target(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return _TARGET_FIXTURE in names or item.get_closest_marker("llm") is not None


def _os_reason(exc: BaseException) -> str | None:
    """The operating system's words for a failed connection (``connection refused``)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno).lower()
        seen = seen.__cause__ or seen.__context__
    return None


def _path_of(url: str) -> str:
    """The path of a URL as a message shows it (a redacted password is no valid URL part)."""
    return _ORIGIN.sub("", url).partition("?")[0] or "/"


def _answer(url: str, asked: str, api_key: str | None) -> tuple[int, str] | None:
    """Status and content type of ``GET`` at ``asked``'s path on ``url``'s host (``url``
    keeps the credentials that ``asked``, as a message shows it, has lost)."""
    import asyncio

    import httpx

    from pytest_llmserver.client import BearerAuth, fetch_json

    given = urlsplit(url)
    again = urlunsplit((given.scheme, given.netloc, _path_of(asked), "", ""))

    async def fetch() -> tuple[int, str]:
        auth = BearerAuth(api_key) if api_key else None
        async with httpx.AsyncClient(timeout=5.0, auth=auth) as http:
            reply = await fetch_json(http, again)
        return reply.status, reply.content_type or "no content type"

    try:
        return asyncio.run(fetch())
    except LLMError:
        return None


def unreachable_line(url: str, exc: LLMError, api_key: str | None = None) -> str:
    """One line on why the server at ``url`` cannot be used, and what to do."""
    from pytest_llmserver.client import LLMConnectError, LLMHTTPStatusError, LLMTimeoutError

    shown, asked = redact_url(url), exc.url or redact_url(url)
    path = _path_of(asked)
    if isinstance(exc, LLMHTTPStatusError):
        answer = _answer(url, asked, api_key)
        status, kind = answer or (exc.status_code, "")
        what = f"HTTP {status} {kind}".rstrip()
        if status in (401, 403):
            return (
                f"--llm-server={shown}: {what} at {path}: the server wants an API key; "
                "pass --llm-api-key (or LLM_API_KEY)"
            )
        return (
            f"--llm-server={shown}: {what} at {path}: not an LLM API; pass the URL of an "
            "OpenAI-compatible or Ollama server (the one that answers /v1/models or /api/tags)"
        )
    if isinstance(exc, LLMConnectError):
        reason = _os_reason(exc) or "cannot connect"
        return (
            f"--llm-server={shown}: {reason} at {asked}; start the server, "
            "or pass --llm-server=URL of a running one (or =auto to look for one, =sim to try)"
        )
    if isinstance(exc, LLMTimeoutError):
        return f"--llm-server={shown}: {exc}; check that the server is up and not overloaded"
    return f"--llm-server={shown}: {exc}; pass --llm-server=URL of an LLM API server"


def target_problem(config: pytest.Config) -> str | None:
    """Resolve and check the server and model (once); what is wrong with them, on one line."""
    from pytest_llmserver.client import select_model

    s = settings(config)
    spec = s.target.server
    if spec is None:
        return None
    record = config.stash.get(TARGET_KEY, None)
    discovery = config.stash.get(DISCOVERY_KEY, None)
    if record is None and spec.mode == "auto" and discovery is not None:
        notes = "".join(f"; {note}" for note in discovery.notes)
        return (
            f"--llm-server=auto found no LLM server ({discovery.summary()}{notes}); start one, "
            "or pass --llm-server=URL (or =sim for the simulator)"
        )
    if record is None and spec.mode == "url" and spec.url:
        try:
            record = probe(s)
        except LLMError as exc:
            return unreachable_line(spec.url, exc, s.target.api_key)
        config.stash[TARGET_KEY] = record
    if record is None:  # sim and local: started for the session by the llm_server fixture
        known = static_models(s)
        record = None if known is None else ServerRecord(url=spec.mode, models=known)
    model = s.target.model
    if record is None or model == "all":
        if record is not None and not record.models:
            return f"--llm-model=all: {redact_url(record.url)} lists no models"
        return None
    try:
        select_model(record, model)
    except LLMError as exc:
        return f"{exc}; pass --llm-model=NAME of a served model (--llm-list shows them)"
    return None


def check_target(session: pytest.Session) -> None:
    """Before the first test: when a collected test needs the target and it cannot be used,
    print one line and stop the session with a usage error."""
    config = session.config
    if config.option.collectonly or (workerinput(config) or {}).get("llm_target"):
        return
    if session.testsfailed:  # collection errors: pytest reports those first
        return
    if any(_needs_target(item) for item in session.items):
        stop_on_problem(config)


def stop_on_problem(config: pytest.Config) -> None:
    """Print one line on what is wrong with the target and stop the session (usage error)."""
    problem = target_problem(config)
    if problem is not None:
        line = " ".join(recorder(config).redactor.text(problem).split())
        pytest.exit(f"pytest-llmserver: {line}", returncode=pytest.ExitCode.USAGE_ERROR)
