"""pytest-llmserver: benchmark LLM inference servers as ordinary pytest runs.

The pytest plugin is ``pytest_llmserver.plugin``, loaded through the ``pytest11`` entry point
named ``pytest_llmserver`` (so ``-p pytest_llmserver`` loads it too).
"""

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
from pytest_llmserver.history import ChatHistoryManager
from pytest_llmserver.stress import StressTester, TestStats
from pytest_llmserver.toolbench import AgentTask, run_agent_loop, run_toolbench, score_task

__version__ = "0.1.0"

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
