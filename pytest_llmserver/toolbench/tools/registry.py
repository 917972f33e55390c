"""Every built-in tool by name, the named groups tasks use, and catalog resolution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from pytest_llmserver.toolbench.tools.base import ToolSpec
from pytest_llmserver.toolbench.tools.basic import BASIC_TOOLS
from pytest_llmserver.toolbench.tools.distractors import (
    DISTRACTOR_TARGETS,
    DISTRACTOR_TOOLS,
    NOISE_TOOLS,
)
from pytest_llmserver.toolbench.tools.realistic import REALISTIC_TOOLS
from pytest_llmserver.toolbench.tools.utility import UTILITY_TOOLS


def _build_registry() -> Mapping[str, ToolSpec]:
    specs = (*BASIC_TOOLS, *UTILITY_TOOLS, *REALISTIC_TOOLS, *DISTRACTOR_TOOLS, *NOISE_TOOLS)
    registry: dict[str, ToolSpec] = {}
    for spec in specs:
        if spec.name in registry:
            raise RuntimeError(f"duplicate tool name {spec.name!r}")
        registry[spec.name] = spec
    return MappingProxyType(registry)


REGISTRY: Mapping[str, ToolSpec] = _build_registry()

TOOL_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "simple": (
            "calculator",
            "get_weather",
            "get_stock_price",
            "list_files",
            "read_file",
            "find_customers",
            "get_customer",
            "list_orders",
            "get_order",
            "translate",
            "convert_units",
            "get_current_datetime",
            "days_between",
            "send_email",
        ),
        "files": ("list_files", "read_file"),
        "database": ("find_customers", "get_customer", "list_orders", "get_order"),
        "strict": ("translate_text", "get_customer", "list_orders", "get_order"),
        "distractors": tuple(DISTRACTOR_TARGETS),
        "realistic": (
            "weather_observations",
            "list_tickets",
            "get_exchange_rate",
            "get_inventory",
            "directory_lookup",
        ),
        "noise": tuple(spec.name for spec in NOISE_TOOLS),
    }
)

_NO_EXTRA: Mapping[str, ToolSpec] = MappingProxyType({})


def resolve_catalog(
    names: Sequence[str], extra: Mapping[str, ToolSpec] = _NO_EXTRA
) -> list[ToolSpec]:
    """Expand ``@group`` names, keep order, drop duplicates; ``extra`` wins over REGISTRY."""
    resolved: dict[str, ToolSpec] = {}
    for raw in names:
        if raw.startswith("@"):
            if raw[1:] not in TOOL_GROUPS:
                known = ", ".join("@" + g for g in TOOL_GROUPS)
                raise KeyError(f"unknown tool group {raw!r} (known: {known})")
            members: Sequence[str] = TOOL_GROUPS[raw[1:]]
        else:
            members = (raw,)
        for name in members:
            if name in resolved:
                continue
            spec = extra.get(name) or REGISTRY.get(name)
            if spec is None:
                known = ", ".join(sorted(set(REGISTRY) | set(extra)))
                raise KeyError(f"unknown tool {name!r} (known: {known})")
            resolved[name] = spec
    return list(resolved.values())
