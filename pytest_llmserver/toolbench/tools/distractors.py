"""Traps: retired look-alikes of real tools (distractors) and unrelated tools (noise)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pytest_llmserver.toolbench.tools.base import Args, ToolError, ToolFn, ToolSpec, ToolState
from pytest_llmserver.toolbench.tools.schema import object_params, str_param

# distractor -> (description, parameters, error message, the real tools it points to)
_DISTRACTORS: tuple[tuple[str, str, dict[str, Any], str, tuple[str, ...]], ...] = (
    (
        "get_weather_legacy",
        "Get the current weather conditions for a city (fast cached endpoint).",
        object_params({"city": str_param("City name")}, ["city"]),
        "get_weather_legacy was retired on 2024-11-30 and returns no data; use get_weather",
        ("get_weather",),
    ),
    (
        "stock_quote_v1",
        "Look up the latest quote for a stock symbol.",
        object_params({"symbol": str_param("Ticker symbol")}, ["symbol"]),
        "stock_quote_v1 is deprecated and disabled; use get_stock_price",
        ("get_stock_price",),
    ),
    (
        "run_sql",
        "Run a read-only SQL query against the customers and orders database.",
        object_params({"query": str_param("SQL SELECT statement")}, ["query"]),
        "direct SQL access is disabled for assistants; use find_customers, get_customer, "
        "list_orders or get_order",
        ("find_customers", "get_customer", "list_orders", "get_order"),
    ),
    (
        "quick_translate",
        "Translate a short piece of text into another language.",
        object_params(
            {"text": str_param("Text to translate"), "language": str_param("Target language")},
            ["text", "language"],
        ),
        "quick_translate has been shut down; use translate_text with an ISO 639-1 language code",
        ("translate_text",),
    ),
    (
        "search_files",
        "Search all files by name or content and return matching snippets.",
        object_params({"pattern": str_param("Text or file name to look for")}, ["pattern"]),
        "the file search index is offline; use list_files and read_file",
        ("list_files", "read_file"),
    ),
)

DISTRACTOR_TARGETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: targets for name, _d, _p, _m, targets in _DISTRACTORS}
)


def _failing(message: str) -> ToolFn:
    def run(args: Args, state: ToolState) -> Any:
        raise ToolError(message)

    return run


def _noise_run(args: Args, state: ToolState) -> Any:
    return {"status": "ok", "results": [], "message": "no matching records"}


_INT = "integer"
_NUM = "number"
_ARR = "array"
# name -> (description, ((param, json type, description), ...)); the first param is required
_NOISE: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "create_calendar_event",
        "Create an event in the user's calendar.",
        (
            ("title", "string", "Event title"),
            ("start", "string", "Start time, ISO 8601"),
            ("duration_minutes", _INT, "Length in minutes"),
        ),
    ),
    (
        "list_calendar_events",
        "List calendar events on a given day.",
        (("date", "string", "Day, YYYY-MM-DD"),),
    ),
    (
        "book_meeting_room",
        "Reserve a meeting room for a time slot.",
        (
            ("room", "string", "Room name"),
            ("start", "string", "Start time, ISO 8601"),
            ("end", "string", "End time, ISO 8601"),
        ),
    ),
    (
        "get_flight_status",
        "Get departure and arrival status for a flight number.",
        (("flight_number", "string", "Flight number, e.g. XY123"),),
    ),
    (
        "search_recipes",
        "Search a recipe collection by ingredient or dish name.",
        (("query", "string", "Ingredient or dish"),),
    ),
    (
        "play_music",
        "Start playing a song, album or playlist on the office speakers.",
        (("query", "string", "What to play"),),
    ),
    (
        "set_thermostat",
        "Set the office thermostat target temperature.",
        (("temperature_c", _NUM, "Target temperature in Celsius"),),
    ),
    (
        "create_issue",
        "Open an issue in the engineering issue tracker.",
        (
            ("project", "string", "Project key"),
            ("title", "string", "Issue title"),
            ("description", "string", "Issue body"),
        ),
    ),
    (
        "reserve_parking",
        "Reserve a parking space at the office.",
        (("date", "string", "Day, YYYY-MM-DD"), ("zone", "string", "Parking zone")),
    ),
    ("get_horoscope", "Get today's horoscope for a star sign.", (("sign", "string", "Star sign"),)),
    (
        "order_coffee",
        "Order a drink from the office coffee bar.",
        (("drink", "string", "Drink name"), ("size", "string", "small, medium or large")),
    ),
    (
        "check_spelling",
        "Check the spelling of a piece of English text.",
        (("text", "string", "Text to check"),),
    ),
    ("summarize_url", "Fetch a web page and summarise it.", (("url", "string", "Page address"),)),
    (
        "get_news_headlines",
        "Get the latest news headlines for a topic.",
        (("topic", "string", "News topic"),),
    ),
    (
        "lookup_postal_code",
        "Find the postal code of a street address or place.",
        (("place", "string", "Address or place name"),),
    ),
    (
        "get_public_holidays",
        "List public holidays for a country and year.",
        (("country_code", "string", "ISO 3166 country code"), ("year", _INT, "Year")),
    ),
    (
        "create_reminder",
        "Create a personal reminder.",
        (("text", "string", "What to remember"), ("when", "string", "When, ISO 8601")),
    ),
    (
        "list_reminders",
        "List the user's open reminders.",
        (("include_done", "boolean", "Also list completed reminders"),),
    ),
    (
        "get_sports_scores",
        "Get recent match results for a sports league.",
        (("league", "string", "League name"),),
    ),
    (
        "find_restaurants",
        "Find restaurants in a city by cuisine.",
        (("city", "string", "City"), ("cuisine", "string", "Cuisine")),
    ),
    (
        "get_traffic",
        "Get current traffic conditions for a driving route.",
        (("route", "string", "Route description"),),
    ),
    (
        "submit_expense",
        "Submit an expense claim.",
        (
            ("amount", _NUM, "Amount"),
            ("category", "string", "Expense category"),
            ("description", "string", "What it was for"),
        ),
    ),
    (
        "request_vacation",
        "Request paid leave for a date range.",
        (
            ("start_date", "string", "First day, YYYY-MM-DD"),
            ("end_date", "string", "Last day, YYYY-MM-DD"),
        ),
    ),
    ("search_podcasts", "Search podcast episodes by keyword.", (("query", "string", "Keywords"),)),
    (
        "get_movie_showtimes",
        "List cinema showtimes for a film in a city.",
        (("city", "string", "City"), ("title", "string", "Film title")),
    ),
    (
        "create_poll",
        "Create a quick poll in the team chat.",
        (("question", "string", "Poll question"), ("options", _ARR, "Answer options")),
    ),
    ("shorten_link", "Create a short link for a long URL.", (("url", "string", "Long URL"),)),
    (
        "get_gym_schedule",
        "Show the office gym class schedule for a day.",
        (("day", "string", "Weekday name"),),
    ),
    (
        "log_workout",
        "Log a workout in the wellness app.",
        (("activity", "string", "Activity"), ("minutes", _INT, "Duration in minutes")),
    ),
    (
        "start_robot_vacuum",
        "Start the cleaning robot in a room.",
        (("room", "string", "Room name"),),
    ),
    (
        "get_lottery_results",
        "Get the winning numbers of a lottery draw.",
        (("draw_date", "string", "Draw date, YYYY-MM-DD"),),
    ),
    (
        "scan_qr_code",
        "Decode a QR code from an image URL.",
        (("image_url", "string", "Image address"),),
    ),
)


def _noise_spec(name: str, description: str, params: tuple[tuple[str, str, str], ...]) -> ToolSpec:
    props: dict[str, dict[str, Any]] = {}
    for pname, ptype, pdesc in params:
        prop: dict[str, Any] = {"type": ptype, "description": pdesc}
        if ptype == _ARR:
            prop["items"] = {"type": "string"}
        props[pname] = prop
    return ToolSpec(name, description, object_params(props, [params[0][0]]), _noise_run)


DISTRACTOR_TOOLS: tuple[ToolSpec, ...] = tuple(
    ToolSpec(name, desc, params, _failing(msg)) for name, desc, params, msg, _t in _DISTRACTORS
)
NOISE_TOOLS: tuple[ToolSpec, ...] = tuple(_noise_spec(*noise) for noise in _NOISE)
