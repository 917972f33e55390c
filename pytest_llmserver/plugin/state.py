"""What the plugin keeps per session (stash keys) and the questions every hook asks: the
resolved settings, "am I an xdist worker", the run directory and the run's recorder."""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmserver._util import slug
from pytest_llmserver._version import __version__
from pytest_llmserver.discovery import ScanInputError
from pytest_llmserver.report import make_run_dir
from pytest_llmserver.settings import OPTIONS, Settings, SettingsError

if TYPE_CHECKING:
    from pytest_llmserver.client import ServerRecord
    from pytest_llmserver.discovery import Discovery
    from pytest_llmserver.plugin.builtin import BuiltinChoice
    from pytest_llmserver.plugin.toolbench import ToolbenchSession
    from pytest_llmserver.run import RunRecorder

# Annotated rather than subscripted, so the engines behind these types load only when used.
SETTINGS_KEY: pytest.StashKey[Settings] = pytest.StashKey()
RUN_DIR_KEY: pytest.StashKey[Path] = pytest.StashKey()
RECORDER_KEY: pytest.StashKey[RunRecorder] = pytest.StashKey()
TARGET_KEY: pytest.StashKey[ServerRecord] = pytest.StashKey()
DISCOVERY_KEY: pytest.StashKey[Discovery] = pytest.StashKey()
SERVER_STACK_KEY: pytest.StashKey[ExitStack] = pytest.StashKey()
SIGTERM_KEY: pytest.StashKey[Callable[[], None]] = pytest.StashKey()
SESSIONS_KEY: pytest.StashKey[dict[str, ToolbenchSession]] = pytest.StashKey()
BUILTIN_KEY: pytest.StashKey[BuiltinChoice] = pytest.StashKey()

YAML_SUFFIX = ".llm.yaml"
"""The ending of a YAML task file the plugin collects."""

NO_SERVER = (
    "needs an LLM server: pass --llm-server=auto|URL|HOST:PORT|sim|local "
    "(or set LLM_SERVER, or ini llm_server)"
)

_SHARD_ID = re.compile(r"shard(\d+)of(\d+)\]$")


def shard_label(index: int, count: int) -> str:
    """The test-id part of shard ``index`` (0-based) of ``count``: ``shard2of4``."""
    return f"shard{index + 1}of{count}"


def shard_of(nodeid: str) -> int | None:
    """The 1-based shard number a test id ends with, else None."""
    match = _SHARD_ID.search(nodeid)
    return int(match.group(1)) if match else None


def interrupt_on_sigterm() -> Callable[[], None] | None:
    """Make SIGTERM stop the run as Ctrl-C does (in-flight requests recorded as cancelled, the
    run's files still written); the function that puts the old handler back. None outside the
    main thread, where signal handlers cannot be set."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.raise_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def _cli_value(value: object) -> str | None:
    """An option's command-line value as text (lists joined, flags as ``true``)."""
    if value is None or value is False:
        return None
    if value is True:
        return "true"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def settings(config: pytest.Config) -> Settings:
    """The run's settings, resolved once; a bad value is a usage error naming the option."""
    if SETTINGS_KEY not in config.stash:
        try:
            resolved = Settings.resolve(
                cli={s.name: _cli_value(config.getoption("llm_" + s.name)) for s in OPTIONS},
                env=os.environ,
                ini={s.name: str(config.getini(s.ini) or "") or None for s in OPTIONS},
            )
            if resolved.discovery.scan_subnet:  # a subnet over the host cap is a usage error too
                from pytest_llmserver.servers import discovery_options

                discovery_options(resolved)
        except (SettingsError, ScanInputError) as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[SETTINGS_KEY] = resolved
    return config.stash[SETTINGS_KEY]


def workerinput(config: pytest.Config) -> dict[str, Any] | None:
    """What the xdist controller gave this worker; None outside a worker."""
    found: dict[str, Any] | None = getattr(config, "workerinput", None)
    return found


def worker_id(config: pytest.Config) -> str | None:
    """``gw0``, ``gw1`` ... on a pytest-xdist worker; None elsewhere."""
    found = workerinput(config)
    return None if found is None else str(found.get("workerid", "gw"))


def run_dir(config: pytest.Config) -> Path:
    """This session's report directory (a worker's is the controller's), made on first use."""
    if RUN_DIR_KEY not in config.stash:
        given = (workerinput(config) or {}).get("llm_run_dir")
        config.stash[RUN_DIR_KEY] = (
            Path(given) if given else make_run_dir(settings(config).run.logs)
        )
    return config.stash[RUN_DIR_KEY]


def recorder(config: pytest.Config) -> RunRecorder:
    """The session's ``RunRecorder`` (made on first use; its run directory only when needed)."""
    if RECORDER_KEY not in config.stash:
        from pytest_llmserver.run import RunRecorder

        config.stash[RECORDER_KEY] = RunRecorder(
            settings(config),
            lambda: run_dir(config),
            __version__,
            config.invocation_params.dir,
            worker=worker_id(config) is not None,
        )
    return config.stash[RECORDER_KEY]


def model_dir(config: pytest.Config, model: str) -> Path:
    """Where a model's reports go: the run directory, or a folder per model under
    ``--llm-model=all``."""
    base = run_dir(config)
    if settings(config).target.model != "all":
        return base
    folder = base / slug(model, default="model")
    folder.mkdir(exist_ok=True)
    return folder
