"""Client for OpenAI-compatible (SSE) and Ollama (NDJSON) chat servers, with exact metrics."""

from pytest_llmserver.client.errors import (
    LLMConnectError,
    LLMContextOverflowError,
    LLMError,
    LLMHTTPStatusError,
    LLMProtocolError,
    LLMServerEventError,
    LLMStreamClosedError,
    LLMTimeoutError,
)
from pytest_llmserver.client.metrics import ChatMetrics
from pytest_llmserver.client.model_client import ModelClient, Timeouts, make_http_client
from pytest_llmserver.client.response import ChatResponse, ToolCall, parse_arguments
from pytest_llmserver.client.thinking import ThinkTagParser, split_thinking, strip_thinking

__all__ = [
    "ChatMetrics",
    "ChatResponse",
    "LLMConnectError",
    "LLMContextOverflowError",
    "LLMError",
    "LLMHTTPStatusError",
    "LLMProtocolError",
    "LLMServerEventError",
    "LLMStreamClosedError",
    "LLMTimeoutError",
    "ModelClient",
    "ThinkTagParser",
    "Timeouts",
    "ToolCall",
    "make_http_client",
    "parse_arguments",
    "split_thinking",
    "strip_thinking",
]
