"""Typed errors raised by the client: every failure is one of these, never a result."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_llmserver.client.metrics import ChatMetrics
    from pytest_llmserver.client.response import ChatResponse


class LLMError(Exception):
    """Base class; ``error_class`` is the short name reports count errors by.

    ``metrics`` holds what the failed request measured before it failed, and ``partial`` what
    its reply held by then: text, reasoning, tool calls (``ModelClient`` errors only).
    """

    error_class = "error"

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.metrics: ChatMetrics | None = None
        self.partial: ChatResponse | None = None


class LLMConnectError(LLMError):
    """The TCP connection could not be made (refused, unreachable, DNS)."""

    error_class = "connect"


class LLMTimeoutError(LLMError):
    """A connect, read-inactivity or total-deadline timeout expired."""

    error_class = "timeout"

    def __init__(self, message: str, *, url: str = "", phase: str = "") -> None:
        super().__init__(message, url=url)
        self.phase = phase


class LLMHTTPStatusError(LLMError):
    """The server answered with a non-2xx status; ``server_message`` is the body's own message."""

    error_class = "http_status"

    def __init__(self, status_code: int, server_message: str, *, url: str = "") -> None:
        super().__init__(f"HTTP {status_code} from {url}: {server_message}", url=url)
        self.status_code = status_code
        self.server_message = server_message


class LLMContextOverflowError(LLMHTTPStatusError):
    """The server refused the request because the prompt does not fit the context window."""

    error_class = "context_overflow"


class LLMProtocolError(LLMError):
    """The reply does not follow the protocol: bad JSON, wrong content type, missing fields."""

    error_class = "protocol"


class LLMServerEventError(LLMError):
    """The server sent an error event inside an otherwise successful stream."""

    error_class = "server_error_event"


class LLMStreamClosedError(LLMProtocolError):
    """The stream ended before the protocol's end marker (connection closed mid-stream)."""


class TargetError(LLMError):
    """The server is reachable but cannot serve the run as asked (e.g. unknown model)."""

    error_class = "target"


CANCELLED = "cancelled"
"""``error_class`` of a request still in flight when its run was stopped (end of a run's
drain time, or an interrupt): recorded, never silently dropped."""

CANCELLED_TEXT = "still running when the run ended (cancelled)"
"""The ``error`` text of a ``cancelled`` record."""

INTERNAL = "internal"
"""``error_class`` of an exception that is none of the above (a fault of ours, or of a reply
that got past every check): its type and message are recorded."""


_RAISED = (
    LLMConnectError,
    LLMTimeoutError,
    LLMHTTPStatusError,
    LLMContextOverflowError,
    LLMProtocolError,
    LLMServerEventError,
    TargetError,
)
ERROR_CLASSES: tuple[str, ...] = (
    *dict.fromkeys(cls.error_class for cls in _RAISED),
    CANCELLED,
    INTERNAL,
)
"""Every ``error_class`` a failed request can carry: the one error vocabulary of reports."""

FAILURE_TEXT_MAX_CHARS = 500
"""Longest text :func:`describe_failure` gives."""


def describe_failure(exc: BaseException) -> str:
    """``"<Type>: <message>"`` of an unexpected exception, on one line, at most
    ``FAILURE_TEXT_MAX_CHARS`` characters (an ellipsis marks a cut)."""
    try:
        message = " ".join(str(exc).split())
    except Exception:  # an exception whose message cannot even be made
        message = "(message unavailable)"
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if len(text) > FAILURE_TEXT_MAX_CHARS:
        text = text[: FAILURE_TEXT_MAX_CHARS - 1] + "\u2026"
    return text


_CONTEXT_OVERFLOW_HINTS = (
    "context length",
    "context window",
    "context size",
    "exceeds the available context",
    "maximum context",
    "too many tokens",
    "exceed_context_size",
)


def looks_like_context_overflow(message: str) -> bool:
    """True when a server error message says the prompt is longer than the context."""
    lowered = message.lower()
    return any(hint in lowered for hint in _CONTEXT_OVERFLOW_HINTS)


def status_error(status_code: int, server_message: str, url: str) -> LLMHTTPStatusError:
    """The typed error for a non-2xx reply, context overflow told apart."""
    if status_code in (400, 413, 500) and looks_like_context_overflow(server_message):
        return LLMContextOverflowError(status_code, server_message, url=url)
    return LLMHTTPStatusError(status_code, server_message, url=url)
