"""Deterministic mock tools for the tool-calling benchmark: fixed data, no I/O, no clock."""

from __future__ import annotations

from pytest_llmserver.toolbench.tools.base import (
    Args,
    CalcError,
    ToolError,
    ToolFn,
    ToolSpec,
    ToolState,
)
from pytest_llmserver.toolbench.tools.calculator import safe_calc
from pytest_llmserver.toolbench.tools.distractors import DISTRACTOR_TARGETS
from pytest_llmserver.toolbench.tools.execute import execute
from pytest_llmserver.toolbench.tools.realistic import ticket_page_token
from pytest_llmserver.toolbench.tools.registry import REGISTRY, TOOL_GROUPS, resolve_catalog
from pytest_llmserver.toolbench.tools.world import NOW_ISO, SECRET_VALUES, TODAY
from pytest_llmserver.toolbench.tools.world_language import LANGUAGES
from pytest_llmserver.toolbench.tools.world_records import (
    ORDER_STATUSES,
    TICKET_PAGE_SIZE,
    TICKET_STATUSES,
)

__all__ = [
    "DISTRACTOR_TARGETS",
    "LANGUAGES",
    "NOW_ISO",
    "ORDER_STATUSES",
    "REGISTRY",
    "SECRET_VALUES",
    "TICKET_PAGE_SIZE",
    "TICKET_STATUSES",
    "TODAY",
    "TOOL_GROUPS",
    "Args",
    "CalcError",
    "ToolError",
    "ToolFn",
    "ToolSpec",
    "ToolState",
    "execute",
    "resolve_catalog",
    "safe_calc",
    "ticket_page_token",
]
