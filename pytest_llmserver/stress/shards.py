"""Sharded load: split a mode's load over N processes, start them together, merge records.

Each shard runs 1/N of the load. After its warm-up a shard writes ``ready-<k>`` (its wall
clock) into a directory all shards see, waits until all N have, and starts at the latest
ready time plus a lead. Records keep ``sent_s`` / ``end_s`` relative to their own shard's
origin; merging shifts them onto the earliest shard's origin using each shard's
``t0_unix_s``, so windows and rates are computed over the combined run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from pytest_llmserver.stress.records import read_records
from pytest_llmserver.stress.sink import JsonlSink

_SHIFTED = ("sent_s", "end_s", "scheduled_s")


def share(total: int, shard: int, shards: int) -> int:
    """Shard ``shard``'s part of ``total`` (the first ``total % shards`` get one more)."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return total // shards + (1 if shard < total % shards else 0)


async def rendezvous(
    directory: Path,
    shard: int,
    shards: int,
    *,
    timeout_s: float = 120.0,
    lead_s: float = 0.3,
    poll_s: float = 0.02,
) -> str | None:
    """Wait for every shard, then until the common start time; a note when not all came
    within ``timeout_s`` (this shard then starts alone), else None."""
    _announce(directory, shard)
    deadline = time.monotonic() + timeout_s
    while True:
        ready = _ready_stamps(directory)
        if len(ready) >= shards:
            break
        if time.monotonic() > deadline:
            return (
                f"shard {shard + 1}/{shards} started alone: only {len(ready)} of {shards} "
                f"shards were ready within {timeout_s:.0f} s (too few xdist workers?)"
            )
        await asyncio.sleep(poll_s)
    start = max(ready) + lead_s
    await asyncio.sleep(max(0.0, start - time.time()))
    return None


def _announce(directory: Path, shard: int) -> None:
    """Write this shard's ready time (tiny local file operations)."""
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f".ready-{shard}"
    temp.write_text(repr(time.time()), encoding="utf-8")
    temp.replace(directory / f"ready-{shard}")


def _ready_stamps(directory: Path) -> list[float]:
    """The ready times written so far."""
    stamps = []
    for path in directory.glob("ready-*"):
        try:
            stamps.append(float(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return stamps


def merge_records(
    shards: Sequence[tuple[Path, float]],
    out: Path,
    *,
    tag: str = "shard",
    tags: Sequence[int] | None = None,
) -> float:
    """Write the records of every ``(records path, t0_unix_s)`` to ``out`` on the earliest
    origin, each tagged ``tag``: its part's number (``tags``, else its place in ``shards``);
    return the start spread in seconds. ``t0_unix_s`` values must be on one clock."""
    origin = min(t0 for _, t0 in shards)
    numbers = list(range(len(shards))) if tags is None else list(tags)
    with JsonlSink(out) as merged:
        for number, (path, t0) in zip(numbers, shards, strict=True):
            offset = t0 - origin
            for record in read_records(path):
                for key in _SHIFTED:
                    if isinstance(record.get(key), (int, float)):
                        record[key] += offset
                record[tag] = number
                merged.write(record)
    return max(t0 for _, t0 in shards) - origin
