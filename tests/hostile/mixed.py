"""Faults of several classes mixed into good replies, for whole runs against the hostile server,
and the error classes the records of such a run must hold."""

from __future__ import annotations

from collections import Counter

from tests.hostile.catalog import CATALOG
from tests.hostile.replies import Api
from tests.hostile.server import HostileServer, Schedule

MIXED = (
    "content_not_string",
    "absurd_counts",
    "nan_timings",
    "error_event",
    "deep_nesting",
    "close_mid_stream",
    "http_500_json",
    "tool_index_not_integer",
    "stall_mid_stream",
    "count_is_string",
)
"""Served in turn to every third chat request: malformed fields, NaN timings, absurd counts,
an error event, deep nesting, a close and a stall mid-stream, an HTTP 500."""


def every_third() -> Schedule:
    """Chat requests 3, 6, 9, ... (1-based) get the next fault of ``MIXED``."""
    return Schedule(lambda n: MIXED[(n // 3) % len(MIXED)] if n % 3 == 2 else None)


def expected_classes(server: HostileServer, api: Api) -> Counter[str]:
    """The documented outcome of every chat request ``server`` read, as the error class its
    record must carry (``ok`` for none)."""
    outcomes: Counter[str] = Counter()
    for served in server.log:
        if served.api is None:
            continue
        outcome = CATALOG[served.fault].outcome(api) if served.fault else "ok"
        outcomes["protocol" if outcome == "closed" else outcome] += 1
    return outcomes
