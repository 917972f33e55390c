"""What the simulator answers: request and reply records, and policies mapping one to the other."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pytest_llmserver.sim.tokens import ANSWER_WORDS, REASONING_WORDS, message_text, word_text

SALT_RE = re.compile(r"\[r[0-9a-f]{6}\] ?")
"""A stress request's salt (``[r7f3a2]``); the default policy's answer does not depend on it."""


@dataclass(frozen=True)
class SimToolCall:
    """One tool call in a reply; a ``str`` for ``arguments`` is sent verbatim (may be bad JSON)."""

    name: str
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class SimReply:
    """What the simulated model generates: reasoning first, then content, then tool calls."""

    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[SimToolCall, ...] = ()


@dataclass(frozen=True)
class SimRequest:
    """A parsed chat request, the same shape for both APIs."""

    api: Literal["openai", "ollama"]
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    max_tokens: int | None
    think: bool | None
    stream: bool
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Policy(Protocol):
    """Maps a request to the reply the simulated model generates."""

    def respond(self, request: SimRequest) -> SimReply:
        """The reply to ``request``."""
        ...


def is_reasoning_model(model: str) -> bool:
    """Whether the simulator treats ``model`` as a reasoning (thinking) model."""
    return "reason" in model.lower()


class DefaultPolicy:
    """Deterministic word text; ``*reason*`` models reason first (unless think is off)."""

    def __init__(self, answer_tokens: int = 32, reasoning_tokens: int = 16) -> None:
        if answer_tokens < 0 or reasoning_tokens < 0:
            raise ValueError("token counts must be >= 0")
        self.answer_tokens = answer_tokens
        self.reasoning_tokens = reasoning_tokens

    def with_answer_tokens(self, answer_tokens: int) -> DefaultPolicy:
        """A copy of this policy with another answer length."""
        return DefaultPolicy(answer_tokens=answer_tokens, reasoning_tokens=self.reasoning_tokens)

    def respond(self, request: SimRequest) -> SimReply:
        """Answer ``answer_tokens`` words chosen by a stable hash of the last message (its
        salts left out, so one prompt salted twice gets one answer)."""
        last = message_text(request.messages[-1].get("content")) if request.messages else ""
        last = SALT_RE.sub("", last)
        offset = zlib.crc32(f"{request.model}\n{last}".encode())
        content = word_text(ANSWER_WORDS, self.answer_tokens, offset)
        reasoning = ""
        if is_reasoning_model(request.model) and request.think is not False:
            reasoning = word_text(REASONING_WORDS, self.reasoning_tokens, offset)
        return SimReply(content=content, reasoning=reasoning)


class ScriptedPolicy:
    """Returns the given replies in order, starting over after the last one."""

    def __init__(self, replies: Sequence[SimReply]) -> None:
        if not replies:
            raise ValueError("ScriptedPolicy needs at least one reply")
        self._replies: tuple[SimReply, ...] = tuple(replies)
        self._next_index = 0

    def respond(self, request: SimRequest) -> SimReply:
        """The next scripted reply."""
        reply = self._replies[self._next_index % len(self._replies)]
        self._next_index = (self._next_index + 1) % len(self._replies)
        return reply


class FunctionPolicy:
    """Wraps a callable from request to reply."""

    def __init__(self, function: Callable[[SimRequest], SimReply]) -> None:
        self._function = function

    def respond(self, request: SimRequest) -> SimReply:
        """The callable's reply to ``request``."""
        return self._function(request)
