"""Sleeping until an absolute ``perf_counter_ns`` deadline without overshooting it."""

from __future__ import annotations

import asyncio
import time

_NS = 1_000_000_000
# Below this much time left, one last plain sleep is taken.
_FINAL_STEP_NS = 1_000_000
# Each long sleep aims this fraction of the way, so a timer that fires late in proportion
# to its length (seen on busy virtual machines) cannot carry the wake-up past the deadline.
_STEP_FRACTION = 0.9


async def sleep_until_ns(deadline_ns: int) -> None:
    """Return at ``deadline_ns`` (``time.perf_counter_ns`` clock), or at once if it has passed.

    Long waits are split into shrinking steps, each re-reading the clock, so the wake-up
    error is that of a final sleep of at most a millisecond, not of the whole wait.
    """
    while True:
        left_ns = deadline_ns - time.perf_counter_ns()
        if left_ns <= 0:
            return
        if left_ns <= _FINAL_STEP_NS:
            await asyncio.sleep(left_ns / _NS)
            return
        await asyncio.sleep(left_ns * _STEP_FRACTION / _NS)
