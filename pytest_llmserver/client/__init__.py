"""Client for OpenAI-compatible (SSE) and Ollama (NDJSON) chat servers, with exact metrics."""

from pytest_llmserver.client.errors import (
    ERROR_CLASSES,
    LLMConnectError,
    LLMContextOverflowError,
    LLMError,
    LLMHTTPStatusError,
    LLMProtocolError,
    LLMServerEventError,
    LLMStreamClosedError,
    LLMTimeoutError,
    TargetError,
    status_error,
)
from pytest_llmserver.client.metrics import ChatMetrics
from pytest_llmserver.client.model_client import ModelClient, Timeouts, make_http_client
from pytest_llmserver.client.openai import error_message
from pytest_llmserver.client.response import ChatResponse, ToolCall, parse_arguments
from pytest_llmserver.client.server import ApiType, ModelInfo, ServerRecord, select_model
from pytest_llmserver.client.thinking import ThinkTagParser, split_thinking, strip_thinking

__all__ = [
    "ERROR_CLASSES",
    "ApiType",
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
    "ModelInfo",
    "ServerRecord",
    "TargetError",
    "ThinkTagParser",
    "Timeouts",
    "ToolCall",
    "error_message",
    "make_http_client",
    "parse_arguments",
    "select_model",
    "split_thinking",
    "status_error",
    "strip_thinking",
]
