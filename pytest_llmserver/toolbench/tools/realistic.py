"""Realistic tools: envelopes, pagination, a rate limit and a second weather source."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pytest_llmserver.toolbench.tools.base import Args, ToolError, ToolSpec, ToolState, fold
from pytest_llmserver.toolbench.tools.basic import city_name
from pytest_llmserver.toolbench.tools.schema import object_params, str_param
from pytest_llmserver.toolbench.tools.world import METNET, NOW_ISO, USD_VALUE
from pytest_llmserver.toolbench.tools.world_records import (
    CUSTOMERS,
    DIRECTORY,
    INVENTORY,
    TICKET_PAGE_SIZE,
    TICKET_STATUSES,
    TICKETS,
)


def _digest(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def _envelope(service: str, key: str, data: Any) -> dict[str, Any]:
    """Wrap data the way the 'realistic' services do: metadata, request id, links."""
    digest = _digest(service, key)
    return {
        "meta": {
            "request_id": f"req-{digest[:12]}",
            "service": service,
            "api_version": "2.4.1",
            "generated_at": NOW_ISO,
            "region": "eu-west-1",
            "latency_ms": 20 + int(digest[12:14], 16) % 80,
            "deprecation": None,
        },
        "data": data,
        "links": {"self": f"/v2/{service}/{digest[14:22]}", "docs": f"/docs/{service}"},
    }


def ticket_page_token(status: str, page: int) -> str:
    """The opaque token list_tickets returns for ``page`` (2-based) of a status filter."""
    return "pt_" + _digest("tickets", status, str(page))[:10]


_TICKET_TOKENS: Mapping[str, tuple[str, int]] = MappingProxyType(
    {
        ticket_page_token(status, page): (status, page)
        for status in TICKET_STATUSES
        for page in range(2, 2 + len(TICKETS) // TICKET_PAGE_SIZE + 1)
    }
)


def _ticket_record(ticket: tuple[int, str, str, int, str, str, str]) -> dict[str, Any]:
    tid, opened, subject, cid, product, priority, status = ticket
    return {
        "id": tid,
        "subject": subject,
        "status": status,
        "priority": priority,
        "product": product,
        "requester": {"customer_id": cid, "name": CUSTOMERS[cid][0]},
        "opened_at": opened,
        "channel": "email" if tid % 2 else "web",
        "sla": {"policy": "standard" if priority in ("low", "normal") else "priority"},
    }


def _list_tickets(args: Args, state: ToolState) -> Any:
    status: str = args.get("status", "any")
    page = 1
    if "page_token" in args:
        token = args["page_token"].strip()
        if token not in _TICKET_TOKENS:
            raise ToolError(f"invalid or expired page_token {token!r}")
        token_status, page = _TICKET_TOKENS[token]
        if "status" in args and status != token_status:
            raise ToolError(
                f"page_token belongs to status={token_status!r}, not {status!r}; "
                "repeat the same filter when paging"
            )
        status = token_status
    matching = [t for t in TICKETS if status in ("any", t[6])]
    pages = max(1, -(-len(matching) // TICKET_PAGE_SIZE))
    chunk = matching[(page - 1) * TICKET_PAGE_SIZE : page * TICKET_PAGE_SIZE]
    data = {
        "filter": {"status": status},
        "tickets": [_ticket_record(t) for t in chunk],
        "pagination": {
            "page": page,
            "page_size": TICKET_PAGE_SIZE,
            "total_results": len(matching),
            "total_pages": pages,
            "next_page_token": ticket_page_token(status, page + 1) if page < pages else None,
        },
    }
    return _envelope("helpdesk", f"{status}:{page}", data)


def _get_exchange_rate(args: Args, state: ToolState) -> Any:
    if state.calls["get_exchange_rate"] <= 1:
        raise ToolError(
            "rate limited (HTTP 429): too many requests for this API key; "
            "retry the same request now"
        )
    base, quote = args["base"].strip().upper(), args["quote"].strip().upper()
    for code in (base, quote):
        if code not in USD_VALUE:
            raise ToolError(f"unknown currency {code!r}; supported: {', '.join(USD_VALUE)}")
    rate = float(f"{USD_VALUE[base] / USD_VALUE[quote]:.6g}")
    data = {
        "pair": f"{base}/{quote}",
        "base": base,
        "quote": quote,
        "rate": rate,
        "inverse_rate": float(f"{USD_VALUE[quote] / USD_VALUE[base]:.6g}"),
        "as_of": "2025-03-14T09:15:00Z",
        "source": {"name": "interbank mid-market", "delay_minutes": 15},
    }
    return _envelope("fx-rates", f"{base}{quote}", data)


def _weather_observations(args: Args, state: ToolState) -> Any:
    city = city_name(args["city"])
    if city is None or city not in METNET:
        raise ToolError(f"MetNet has no observation station for {args['city']!r}")
    station, temp, condition, humidity, wind, direction = METNET[city]
    data = {
        "station": {"id": station, "city": city, "provider": "MetNet Observations"},
        "observation": {
            "observed_at": "2025-03-14T09:20:00Z",
            "temperature": {"value": temp, "unit": "celsius"},
            "condition_text": condition,
            "relative_humidity": humidity,
            "wind": {"speed": wind, "unit": "m/s", "direction_deg": direction},
        },
        "quality": {"flag": "verified", "checks_passed": 7},
    }
    return _envelope("metnet", city, data)


def _get_inventory(args: Args, state: ToolState) -> Any:
    sku = args["sku"].strip().upper()
    if sku not in INVENTORY:
        raise ToolError(f"unknown SKU {sku!r}; known SKUs: {', '.join(INVENTORY)}")
    name, locations, stale_total = INVENTORY[sku]
    data = {
        "item": {"sku": sku, "name": name, "unit": "piece"},
        "stock": {
            "locations": [
                {"warehouse": wh, "on_hand": on_hand, "reserved": reserved}
                for wh, on_hand, reserved in locations
            ],
            "note": "sellable stock = on_hand - reserved",
        },
        "summary": {"available_total": stale_total, "computed_at": "2025-03-12T23:00:00Z"},
    }
    return _envelope("inventory", sku, data)


def _directory_lookup(args: Args, state: ToolState) -> Any:
    query = fold(args["query"])
    people = [
        {
            "person_id": pid,
            "display_name": name,
            "job": {"title": title, "department": dept},
            "contact": {"email": email, "phone_ext": ext},
            "office": {
                "city": office,
                "country_code": {"Rotterdam": "NL", "Leeds": "GB"}.get(office, "PT"),
            },
        }
        for pid, name, title, dept, email, ext, office in DIRECTORY
        if query and any(query in fold(v) for v in (name, title, dept, email))
    ]
    return _envelope(
        "directory", query, {"query": args["query"], "matches": len(people), "people": people}
    )


REALISTIC_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "weather_observations",
        "MetNet verified station observations for a city: temperature (Celsius), condition, "
        "relative humidity (0-1) and wind (m/s).",
        object_params({"city": str_param("City name")}, ["city"]),
        _weather_observations,
    ),
    ToolSpec(
        "list_tickets",
        "List support tickets, newest first, 3 per page. Pass the returned next_page_token "
        "(with the same status) to get the next page.",
        object_params(
            {
                "status": str_param(
                    "Ticket status filter (default 'any')", enum=list(TICKET_STATUSES)
                ),
                "page_token": str_param("next_page_token from the previous page"),
            }
        ),
        _list_tickets,
    ),
    ToolSpec(
        "get_exchange_rate",
        "Current exchange rate: how many units of quote currency one unit of base buys.",
        object_params(
            {
                "base": str_param("ISO 4217 code, e.g. 'EUR'"),
                "quote": str_param("ISO 4217 code, e.g. 'USD'"),
            },
            ["base", "quote"],
        ),
        _get_exchange_rate,
    ),
    ToolSpec(
        "get_inventory",
        "Warehouse stock for a product SKU: on-hand and reserved units per warehouse.",
        object_params({"sku": str_param("Product SKU, e.g. 'CHR-310'")}, ["sku"]),
        _get_inventory,
    ),
    ToolSpec(
        "directory_lookup",
        "Search the company staff directory by name, job title or department.",
        object_params({"query": str_param("Name, title or department, e.g. 'support'")}, ["query"]),
        _directory_lookup,
    ),
)
