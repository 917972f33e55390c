"""pytest-llmserver: benchmark LLM inference servers as ordinary pytest runs.

The pytest plugin is ``pytest_llmserver.plugin`` (the ``pytest11`` entry point named
``pytest_llmserver``). The names below are the Python API, usable without pytest; each is
imported on first use, so ``import pytest_llmserver`` itself costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pytest_llmserver._version import __version__

if TYPE_CHECKING:
    from pytest_llmserver.arena import ModelArena, PromptArena
    from pytest_llmserver.client import (
        ChatMetrics,
        ChatResponse,
        LLMError,
        ModelClient,
        ServerRecord,
        Timeouts,
        ToolCall,
        select_model,
        split_thinking,
        strip_thinking,
    )
    from pytest_llmserver.discovery import discover, probe_url, scan_network
    from pytest_llmserver.report import ChatHistoryManager
    from pytest_llmserver.stress import StressTester, TestResult, TestStats
    from pytest_llmserver.toolbench import AgentTask, run_agent_loop, run_toolbench, score_task

_EXPORTS = {
    "pytest_llmserver.arena": ("ModelArena", "PromptArena"),
    "pytest_llmserver.client": (
        "ChatMetrics",
        "ChatResponse",
        "LLMError",
        "ModelClient",
        "ServerRecord",
        "Timeouts",
        "ToolCall",
        "select_model",
        "split_thinking",
        "strip_thinking",
    ),
    "pytest_llmserver.discovery": ("discover", "probe_url", "scan_network"),
    "pytest_llmserver.report": ("ChatHistoryManager",),
    "pytest_llmserver.stress": ("StressTester", "TestResult", "TestStats"),
    "pytest_llmserver.toolbench": ("AgentTask", "run_agent_loop", "run_toolbench", "score_task"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AgentTask",
    "ChatHistoryManager",
    "ChatMetrics",
    "ChatResponse",
    "LLMError",
    "ModelArena",
    "ModelClient",
    "PromptArena",
    "ServerRecord",
    "StressTester",
    "TestResult",
    "TestStats",
    "Timeouts",
    "ToolCall",
    "__version__",
    "discover",
    "probe_url",
    "run_agent_loop",
    "run_toolbench",
    "scan_network",
    "score_task",
    "select_model",
    "split_thinking",
    "strip_thinking",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmserver' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
