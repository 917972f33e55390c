"""pytest-llmserver: benchmark LLM inference servers as ordinary pytest runs.

``-p pytest_llmserver`` loads the plugin through ``pytest_plugins`` below; installed, it is
also loaded by its ``pytest11`` entry point.
"""

from pytest_llmserver.client import (
    ChatMetrics,
    ChatResponse,
    LLMError,
    ModelClient,
    Timeouts,
    ToolCall,
    split_thinking,
    strip_thinking,
)
from pytest_llmserver.target import ServerRecord, probe_server, select_model

__version__ = "0.1.0"

pytest_plugins = ["pytest_llmserver.plugin"]

__all__ = [
    "ChatMetrics",
    "ChatResponse",
    "LLMError",
    "ModelClient",
    "ServerRecord",
    "Timeouts",
    "ToolCall",
    "__version__",
    "probe_server",
    "select_model",
    "split_thinking",
    "strip_thinking",
]
