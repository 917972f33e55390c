"""The simulator's tokenizer: one token per word together with the whitespace before it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

_PIECE_RE = re.compile(r"\s*\S+")

#: Words the default policy builds answers from (plain, one token each).
ANSWER_WORDS: tuple[str, ...] = (
    "river", "lantern", "copper", "meadow", "signal", "harbor", "pebble", "orbit",
    "thistle", "granite", "whistle", "cobalt", "ember", "willow", "canyon", "falcon",
    "mosaic", "tundra", "velvet", "quarry", "beacon", "saffron", "glacier", "ridge",
    "juniper", "marble", "nebula", "oyster", "prairie", "quartz", "raven", "summit",
    "timber", "umber", "vortex", "walnut", "zephyr", "anchor", "bramble", "cinder",
    "delta", "ferric", "garnet", "hollow", "inlet", "jasper", "kelp", "lichen",
)  # fmt: skip

#: Words the default policy builds reasoning from.
REASONING_WORDS: tuple[str, ...] = (
    "first", "consider", "the", "question", "then", "weigh", "each", "option",
    "check", "the", "numbers", "again", "compare", "both", "paths", "and",
    "settle", "on", "the", "clearest", "reply", "before", "writing", "it",
)  # fmt: skip


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into tokens; ``"".join(split_tokens(t)) == t`` always holds."""
    pieces: list[str] = _PIECE_RE.findall(text)
    consumed = sum(len(p) for p in pieces)
    if consumed < len(text):  # trailing whitespace belongs to the last token
        tail = text[consumed:]
        if pieces:
            pieces[-1] += tail
        else:
            pieces.append(tail)
    return pieces


def count_tokens(text: str) -> int:
    """Number of tokens in ``text``."""
    return len(split_tokens(text))


def split_arguments(arguments: str) -> list[str]:
    """Split a tool call's argument string into tokens, at least two when it has two characters."""
    pieces = split_tokens(arguments)
    if len(pieces) == 1 and len(arguments) >= 2:
        half = len(arguments) // 2
        pieces = [arguments[:half], arguments[half:]]
    return pieces


def message_text(content: Any) -> str:
    """The text of a chat message's ``content`` (a string, or a list of OpenAI content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return " ".join(parts)
    return ""


def prompt_tokens_of(messages: Sequence[Any], tools: Sequence[Any]) -> list[str]:
    """The prompt as the simulator's template lays it out: the tool schemas, then per message
    its role between three marker tokens, its content and an end token; ``len`` of it is
    ``count_prompt_tokens``."""
    tokens = split_tokens(json.dumps(list(tools))) if tools else []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        tokens += ["<|start|>", str(role), "<|sep|>", *split_tokens(message_text(content))]
        tokens.append("<|end|>")
    return tokens


def count_prompt_tokens(messages: Sequence[Any], tools: Sequence[Any]) -> int:
    """Prompt tokens: tokens of each message's content plus 4 per message, plus the tool schemas."""
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        total += count_tokens(message_text(content)) + 4
    if tools:
        total += count_tokens(json.dumps(list(tools)))
    return total


def word_text(words: Sequence[str], count: int, offset: int) -> str:
    """``count`` words from ``words`` starting at ``offset`` (cycling), joined by single spaces."""
    if count <= 0 or not words:
        return ""
    return " ".join(words[(offset + i) % len(words)] for i in range(count))
