"""The type of an option's entry in ``specs.OPTIONS``: one ``--llm-*`` option's flag, ini key,
environment variable, settings field, parser and default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pytest_llmserver.options.parsers import Parser, SettingsError

ApiChoice = Literal["auto", "openai", "ollama"]
Group = Literal["target", "run", "discovery", "stress", "gate", "arena"]


@dataclass(frozen=True)
class OptionSpec:
    """One option: ``--llm-<name>``, ini ``llm_<name>``, env ``LLM_<NAME>``, and the settings
    field ``<group>.<name>[_<unit>]``."""

    name: str
    group: Group
    help: str
    parse: Parser
    default: str | None = None
    metavar: str = "VALUE"
    unit: str = ""
    secret: bool = False
    action: Literal["store", "append", "store_true", "optional"] = "store"

    @property
    def flag(self) -> str:
        return "--llm-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "llm_" + self.name

    @property
    def env(self) -> str:
        return "LLM_" + self.name.upper()

    @property
    def field(self) -> str:
        """The settings field: the name with its unit appended (``timeout`` -> ``timeout_s``)."""
        suffix = f"_{self.unit}"
        return self.name if not self.unit or self.name.endswith(suffix) else self.name + suffix


def or_none(parse: Parser) -> Parser:
    """``parse``, or ``none`` for None (nothing sent)."""

    def parse_or_none(raw: str, source: str) -> Any:
        if raw.strip().lower() == "none":
            return None
        try:
            return parse(raw, source)
        except SettingsError as exc:
            raise SettingsError(f"{exc} or none") from None

    return parse_or_none
