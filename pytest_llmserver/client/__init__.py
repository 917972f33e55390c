"""Client for OpenAI-compatible (SSE) and Ollama (NDJSON) chat servers, with exact metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.client._api import CLIENT_KEYS, ChatRequest, error_message, merge_extra
    from pytest_llmserver.client._transport import (
        HTTPX_ERRORS,
        BearerAuth,
        Timeouts,
        llm_error,
        map_http_errors,
    )
    from pytest_llmserver.client.errors import (
        CANCELLED,
        CANCELLED_TEXT,
        ERROR_CLASSES,
        INTERNAL,
        LLMConnectError,
        LLMContextOverflowError,
        LLMError,
        LLMHTTPStatusError,
        LLMProtocolError,
        LLMServerEventError,
        LLMStreamClosedError,
        LLMTimeoutError,
        TargetError,
        describe_failure,
        status_error,
    )
    from pytest_llmserver.client.fetch import JsonReply, fetch_json
    from pytest_llmserver.client.metrics import ChatMetrics
    from pytest_llmserver.client.model_client import ModelClient
    from pytest_llmserver.client.ollama import OLLAMA
    from pytest_llmserver.client.openai import OPENAI
    from pytest_llmserver.client.protocols import CHAT_APIS, chat_api
    from pytest_llmserver.client.response import ChatResponse, ToolCall
    from pytest_llmserver.client.server import ModelInfo, ServerRecord, select_model
    from pytest_llmserver.client.thinking import ThinkTagParser, split_thinking, strip_thinking

__all__ = [
    "CANCELLED",
    "CANCELLED_TEXT",
    "CHAT_APIS",
    "CLIENT_KEYS",
    "ERROR_CLASSES",
    "HTTPX_ERRORS",
    "INTERNAL",
    "OLLAMA",
    "OPENAI",
    "BearerAuth",
    "ChatMetrics",
    "ChatRequest",
    "ChatResponse",
    "JsonReply",
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
    "chat_api",
    "describe_failure",
    "error_message",
    "fetch_json",
    "llm_error",
    "map_http_errors",
    "merge_extra",
    "select_model",
    "split_thinking",
    "status_error",
    "strip_thinking",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "_api": "CLIENT_KEYS ChatRequest error_message merge_extra",
            "_transport": "HTTPX_ERRORS BearerAuth Timeouts llm_error map_http_errors",
            "errors": (
                "CANCELLED CANCELLED_TEXT ERROR_CLASSES INTERNAL LLMConnectError "
                "LLMContextOverflowError LLMError LLMHTTPStatusError LLMProtocolError "
                "LLMServerEventError LLMStreamClosedError LLMTimeoutError TargetError "
                "describe_failure status_error"
            ),
            "fetch": "JsonReply fetch_json",
            "metrics": "ChatMetrics",
            "model_client": "ModelClient",
            "ollama": "OLLAMA",
            "openai": "OPENAI",
            "protocols": "CHAT_APIS chat_api",
            "response": "ChatResponse ToolCall",
            "server": "ModelInfo ServerRecord select_model",
            "thinking": "ThinkTagParser split_thinking strip_thinking",
        },
    )
