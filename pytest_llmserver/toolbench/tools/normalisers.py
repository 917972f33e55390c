"""What each tool resolves an argument to, so a scorer compares calls as the tool reads them
("Oslo, Norway" is Oslo; a surname finds the same person as the full name), and the mock
world's closed sets of candidates (every city, ticket, customer) for wrong-item checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from pytest_llmserver.toolbench.tools.base import ToolError, fold
from pytest_llmserver.toolbench.tools.basic import city_name
from pytest_llmserver.toolbench.tools.calculator import safe_calc
from pytest_llmserver.toolbench.tools.world import STOCKS, WEATHER
from pytest_llmserver.toolbench.tools.world_language import LANGUAGES
from pytest_llmserver.toolbench.tools.world_records import (
    CUSTOMERS,
    DIRECTORY,
    ORDER_STATUSES,
    TICKETS,
)

Normaliser = Callable[[Any], Any]
"""Maps an argument value to what the tool makes of it; None when the tool would refuse it."""


def _text(value: Any) -> str | None:
    return fold(value).strip(" \"'") if isinstance(value, str) else None


def _city(value: Any) -> Any:
    return city_name(value) if isinstance(value, str) else None


def _upper(value: Any) -> Any:
    return value.strip().upper().removeprefix("$") if isinstance(value, str) else None


def _path(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    parts = [p for p in value.strip().split("/") if p not in ("", ".")]
    return None if ".." in parts else "/" + "/".join(parts)


def _customers(value: Any) -> Any:
    """The ids ``find_customers(name=value)`` returns."""
    if not isinstance(value, str):
        return None
    name = fold(value)
    return frozenset(cid for cid, record in CUSTOMERS.items() if name in fold(record[0])) or None


def _people(value: Any) -> Any:
    """The person ids ``directory_lookup(query=value)`` returns."""
    if not isinstance(value, str) or not fold(value):
        return None
    query = fold(value)
    found = frozenset(
        pid
        for pid, name, title, dept, email, _ext, _office in DIRECTORY
        if any(query in fold(v) for v in (name, title, dept, email))
    )
    return found or None


def _phrase(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    return fold(value).strip(" \"'\u201c\u201d\u2018\u2019").rstrip(".!?").strip()


def _language(value: Any) -> Any:
    """The code ``translate`` accepts a name or code for."""
    wanted = fold(value) if isinstance(value, str) else None
    return next((c for c, n in LANGUAGES.items() if wanted in (c, fold(n))), None)


def _iso_code(value: Any) -> Any:
    """``translate_text`` takes only a lower-case two-letter code."""
    code = value.strip() if isinstance(value, str) else ""
    return code if re.fullmatch(r"[a-z]{2}", code) else None


def _iso_date(value: Any) -> Any:
    text = value.strip() if isinstance(value, str) else ""
    return text if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None


def _integer(value: Any) -> Any:
    """An integer argument as the tool reads it (3.0 is 3; "3" is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if float(value).is_integer() else None


def _calculation(value: Any) -> Any:
    """The value the calculator gives an expression."""
    return safe_calc(value) if isinstance(value, str) else None


def _address(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else None


NORMALISERS: Mapping[str, Mapping[str, Normaliser]] = MappingProxyType(
    {
        "calculator": {"expression": _calculation},
        "get_weather": {"city": _city},
        "weather_observations": {"city": _city},
        "get_stock_price": {"ticker": _upper},
        "get_exchange_rate": {"base": _upper, "quote": _upper},
        "get_inventory": {"sku": _upper},
        "read_file": {"path": _path},
        "list_files": {"path": _path},
        "find_customers": {"name": _customers, "tier": _text, "city": _text},
        "directory_lookup": {"query": _people},
        "translate": {"text": _phrase, "target_lang": _language},
        "translate_text": {"text": _phrase, "target_lang": _iso_code},
        "quick_translate": {"text": _phrase},
        "days_between": {"start_date": _iso_date, "end_date": _iso_date},
        "send_email": {"to": _address, "subject": _text},
        "get_customer": {"customer_id": _integer},
        "list_orders": {"customer_id": _integer},
        "get_order": {"order_id": _integer},
    }
)


def normalised(tool: str, argument: str, value: Any) -> Any:
    """What ``tool`` makes of ``value`` for ``argument`` (the value itself when the tool has
    no normaliser for it; None when the tool would refuse it)."""
    normaliser = NORMALISERS.get(tool, {}).get(argument)
    if normaliser is None:
        return value
    try:
        return normaliser(value)
    except (ToolError, TypeError, ValueError, AttributeError):
        return None


def _ticket_people() -> tuple[str, ...]:
    return tuple(CUSTOMERS[t[3]][0] for t in TICKETS)


UNIVERSES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "cities": tuple(WEATHER),
        "tickers": tuple(STOCKS) + tuple(company for company, *_ in STOCKS.values()),
        "tickets": tuple(str(t[0]) for t in TICKETS),
        "ticket_requesters": tuple(dict.fromkeys(_ticket_people())),
        "customers": tuple(record[0] for record in CUSTOMERS.values()),
        "order_statuses": ORDER_STATUSES,
    }
)
"""Named closed sets from the mock world: a task's ``closed_set`` names one, and every member
that is not a right item is a wrong candidate."""
