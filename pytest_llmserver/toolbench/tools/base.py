"""What every tool shares: its spec, the run state, the error types and text folding."""

from __future__ import annotations

import collections
import copy
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Args = dict[str, Any]
ToolFn = Callable[[Args, "ToolState"], Any]


class ToolError(Exception):
    """A tool-level failure; its message is shown to the model as {"error": message}."""


class CalcError(ToolError):
    """The calculator refused or could not evaluate an expression."""


@dataclass
class ToolState:
    """Everything one task run changes: call counts and sent e-mails."""

    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    sent_emails: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ToolSpec:
    """One tool: name, description, JSON-schema parameters and the function that runs it."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: ToolFn

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema sent to the model."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(self.parameters),
            },
        }


def fold(text: str) -> str:
    """Case-fold, strip accents and collapse whitespace."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())
