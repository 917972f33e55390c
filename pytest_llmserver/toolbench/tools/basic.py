"""The simple tools: calculator, weather, stocks, files, customers, orders, translation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytest_llmserver.toolbench.tools.base import Args, ToolError, ToolSpec, ToolState, fold
from pytest_llmserver.toolbench.tools.calculator import safe_calc
from pytest_llmserver.toolbench.tools.schema import object_params, str_param
from pytest_llmserver.toolbench.tools.world import FILES, NOW_ISO, STOCKS, WEATHER
from pytest_llmserver.toolbench.tools.world_language import LANGUAGES, PHRASES
from pytest_llmserver.toolbench.tools.world_records import CUSTOMERS, ORDER_STATUSES, ORDERS


def city_name(raw: str) -> str | None:
    """The covered city ``raw`` names ("oslo, Norway" is Oslo), or None."""
    wanted = fold(raw.split(",")[0])
    for name in WEATHER:
        if fold(name) == wanted:
            return name
    return None


def _calculator(args: Args, state: ToolState) -> Any:
    return {"expression": args["expression"], "result": safe_calc(args["expression"])}


def _get_weather(args: Args, state: ToolState) -> Any:
    city = city_name(args["city"])
    if city is None:
        raise ToolError(
            f"no weather data for {args['city']!r}; covered cities: {', '.join(sorted(WEATHER))}"
        )
    temp, condition, humidity, wind = WEATHER[city]
    return {
        "city": city,
        "temperature_c": temp,
        "condition": condition,
        "humidity_pct": humidity,
        "wind_kph": wind,
        "observed_at": "2025-03-14T09:00:00Z",
    }


def _get_stock_price(args: Args, state: ToolState) -> Any:
    raw = args["ticker"].strip()
    ticker = raw.upper().removeprefix("$")
    if ticker not in STOCKS:
        for symbol, (company, *_rest) in STOCKS.items():
            if fold(raw) and fold(raw) in fold(company):
                raise ToolError(f"{raw!r} is a company name; pass its ticker symbol {symbol!r}")
        raise ToolError(f"unknown ticker {raw!r}")
    company, price, currency, change = STOCKS[ticker]
    return {
        "ticker": ticker,
        "company": company,
        "price": price,
        "currency": currency,
        "change_pct": change,
        "as_of": NOW_ISO,
    }


def _norm_path(raw: str) -> str:
    parts = [p for p in raw.strip().split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ToolError("'..' is not allowed in paths")
    return "/" + "/".join(parts)


def _dir_entries(path: str) -> dict[str, str]:
    """Child name -> 'file' or 'directory' for a directory path; empty if it is not one."""
    prefix = path.rstrip("/") + "/"
    entries: dict[str, str] = {}
    for file_path in FILES:
        if file_path.startswith(prefix):
            head, _, rest = file_path[len(prefix) :].partition("/")
            entries[head] = "directory" if rest else "file"
    return entries


def _list_files(args: Args, state: ToolState) -> Any:
    path = _norm_path(args.get("path", "/"))
    if path in FILES:
        raise ToolError(f"{path} is a file, not a directory; use read_file")
    entries = _dir_entries(path)
    if not entries:
        raise ToolError(f"no such directory: {path}")
    listing: list[dict[str, Any]] = []
    for name, kind in sorted(entries.items()):
        item: dict[str, Any] = {"name": name, "type": kind}
        if kind == "file":
            item["size_bytes"] = len(FILES[path.rstrip("/") + "/" + name].encode())
        listing.append(item)
    return {"path": path, "entries": listing}


def _read_file(args: Args, state: ToolState) -> Any:
    path = _norm_path(args["path"])
    if path in FILES:
        return {"path": path, "content": FILES[path]}
    if _dir_entries(path):
        raise ToolError(f"{path} is a directory; use list_files")
    parent = path.rsplit("/", 1)[0] or "/"
    siblings = [n for n, kind in sorted(_dir_entries(parent).items()) if kind == "file"]
    hint = f" (files in {parent}: {', '.join(siblings)})" if siblings else ""
    raise ToolError(f"no such file: {path}{hint}")


def _customer_summary(cid: int) -> dict[str, Any]:
    return {"customer_id": cid, "name": CUSTOMERS[cid][0]}


def _find_customers(args: Args, state: ToolState) -> Any:
    name = fold(args.get("name", ""))
    city = fold(args.get("city", ""))
    tier = args.get("tier")
    found = [
        _customer_summary(cid)
        for cid, (cname, _email, ccity, ctier, _since, _notes) in CUSTOMERS.items()
        if name in fold(cname) and city in fold(ccity) and tier in (None, ctier)
    ]
    return {"count": len(found), "customers": found}


def _customer_id(args: Args) -> int:
    cid: int = args["customer_id"]
    if cid not in CUSTOMERS:
        raise ToolError(f"no customer with id {cid}")
    return cid


def _get_customer(args: Args, state: ToolState) -> Any:
    cid = _customer_id(args)
    name, email, city, tier, since, notes = CUSTOMERS[cid]
    return {
        "customer_id": cid,
        "name": name,
        "email": email,
        "city": city,
        "tier": tier,
        "customer_since": since,
        "notes": notes,
    }


def _order_record(oid: int, with_customer: bool) -> dict[str, Any]:
    cid, item, amount, status, day = ORDERS[oid]
    record: dict[str, Any] = {"order_id": oid}
    if with_customer:
        record["customer_id"] = cid
    record.update(
        {"item": item, "amount": amount, "currency": "EUR", "status": status, "order_date": day}
    )
    return record


def _list_orders(args: Args, state: ToolState) -> Any:
    cid = _customer_id(args)
    status = args.get("status")
    orders = [
        _order_record(oid, with_customer=False)
        for oid, (ocid, _item, _amount, ostatus, _day) in ORDERS.items()
        if ocid == cid and status in (None, ostatus)
    ]
    return {"customer_id": cid, "count": len(orders), "orders": orders}


def _get_order(args: Args, state: ToolState) -> Any:
    oid: int = args["order_id"]
    if oid not in ORDERS:
        raise ToolError(f"no order with id {oid}")
    return _order_record(oid, with_customer=True)


def _phrase(text: str) -> Mapping[str, str]:
    key = fold(text).strip(" \"'\u201c\u201d\u2018\u2019").rstrip(".!?").strip()
    if key not in PHRASES:
        raise ToolError(
            f"no translation available for {text!r}; this service covers only these phrases: "
            + "; ".join(repr(p) for p in PHRASES)
        )
    return PHRASES[key]


def _translate_result(text: str, code: str) -> dict[str, Any]:
    return {
        "text": text,
        "target_lang": code,
        "language": LANGUAGES[code],
        "translation": _phrase(text)[code],
    }


def _translate(args: Args, state: ToolState) -> Any:
    wanted = fold(args["target_lang"])
    for code, language in LANGUAGES.items():
        if wanted in (code, fold(language)):
            return _translate_result(args["text"], code)
    raise ToolError(
        f"unsupported target language {args['target_lang']!r}; supported: "
        + ", ".join(f"{name} ({code})" for code, name in LANGUAGES.items())
    )


def _translate_text(args: Args, state: ToolState) -> Any:
    code = args["target_lang"].strip()
    if not re.fullmatch(r"[a-z]{2}", code):
        raise ToolError(
            f"target_lang must be a lower-case ISO 639-1 two-letter code such as 'fr' or 'ja', "
            f"not {code!r}"
        )
    if code not in LANGUAGES:
        raise ToolError(f"unsupported language code {code!r}; supported: {', '.join(LANGUAGES)}")
    return _translate_result(args["text"], code)


_CUSTOMER_ID = {"type": "integer", "description": "Numeric customer id, e.g. 3"}
_CITY_LIST = ", ".join(sorted(WEATHER))

BASIC_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "calculator",
        "Evaluate an arithmetic expression exactly. Supports + - * / // % ** (or ^), "
        "parentheses, sqrt, abs, round, min, max, floor, ceil, pi and e.",
        object_params(
            {"expression": str_param("Expression, e.g. '(420 + 35) * 1.08'")}, ["expression"]
        ),
        _calculator,
    ),
    ToolSpec(
        "get_weather",
        f"Current weather for a city: temperature in Celsius, condition, humidity and wind "
        f"(km/h). Covers: {_CITY_LIST}.",
        object_params({"city": str_param("City name, e.g. 'Oslo'")}, ["city"]),
        _get_weather,
    ),
    ToolSpec(
        "get_stock_price",
        "Latest share price, currency and daily change (%) for a stock ticker symbol.",
        object_params({"ticker": str_param("Ticker symbol, e.g. 'NOVA'")}, ["ticker"]),
        _get_stock_price,
    ),
    ToolSpec(
        "list_files",
        "List the files and directories in a directory of the shared drive.",
        object_params({"path": str_param("Directory path, e.g. '/reports' (default '/')")}),
        _list_files,
    ),
    ToolSpec(
        "read_file",
        "Read a text file from the shared drive.",
        object_params({"path": str_param("File path, e.g. '/notes/todo.txt'")}, ["path"]),
        _read_file,
    ),
    ToolSpec(
        "find_customers",
        "Search customers by name, city and/or tier; returns ids and names. "
        "Use get_customer for details.",
        object_params(
            {
                "name": str_param("Part of the customer's name"),
                "city": str_param("City"),
                "tier": str_param("Loyalty tier", enum=["gold", "silver", "bronze"]),
            }
        ),
        _find_customers,
    ),
    ToolSpec(
        "get_customer",
        "Full customer record (email, city, tier, notes) by numeric customer id.",
        object_params({"customer_id": _CUSTOMER_ID}, ["customer_id"]),
        _get_customer,
    ),
    ToolSpec(
        "list_orders",
        "List a customer's orders (id, item, amount in EUR, status, date), optionally "
        "filtered by status.",
        object_params(
            {
                "customer_id": _CUSTOMER_ID,
                "status": str_param("Only orders with this status", enum=list(ORDER_STATUSES)),
            },
            ["customer_id"],
        ),
        _list_orders,
    ),
    ToolSpec(
        "get_order",
        "One order by numeric order id, including its customer id.",
        object_params(
            {"order_id": {"type": "integer", "description": "Numeric order id"}}, ["order_id"]
        ),
        _get_order,
    ),
    ToolSpec(
        "translate",
        "Translate a short English phrase. target_lang may be a language name or code "
        f"({', '.join(f'{n}/{c}' for c, n in LANGUAGES.items())}).",
        object_params(
            {"text": str_param("English text"), "target_lang": str_param("Target language")},
            ["text", "target_lang"],
        ),
        _translate,
    ),
    ToolSpec(
        "translate_text",
        "Translate a short English phrase. target_lang must be an ISO 639-1 two-letter code: "
        f"{', '.join(LANGUAGES)}.",
        object_params(
            {
                "text": str_param("English text"),
                "target_lang": str_param("ISO 639-1 code, e.g. 'fr'"),
            },
            ["text", "target_lang"],
        ),
        _translate_text,
    ),
)
