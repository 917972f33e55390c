"""Shards: the split of a load, the start together, and the merge of their records."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from pytest_llmserver.stress.shards import merge_records, rendezvous, share


def test_share_splits_exactly() -> None:
    assert [share(10, k, 3) for k in range(3)] == [4, 3, 3]
    assert sum(share(7, k, 4) for k in range(4)) == 7
    with pytest.raises(ValueError, match=r"shard 3 is not in 0\.\.2"):
        share(5, 3, 3)


def test_merge_records_shifts_onto_the_earliest_origin(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps({"sent_s": 0.0, "end_s": 1.0, "ok": True}) + "\n")
    b.write_text(json.dumps({"sent_s": 0.5, "end_s": 1.5, "scheduled_s": 0.5}) + "\n\n")
    spread = merge_records([(a, 100.0), (b, 100.25)], tmp_path / "m.jsonl")
    assert spread == pytest.approx(0.25)
    merged = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert merged == [
        {"sent_s": 0.0, "end_s": 1.0, "ok": True, "shard": 0},
        {"sent_s": 0.75, "end_s": 1.75, "scheduled_s": 0.75, "shard": 1},
    ]


@pytest.mark.timing
def test_rendezvous_waits_for_all_or_says_it_started_alone(tmp_path: Path) -> None:
    async def both() -> list[str | None]:
        return list(
            await asyncio.gather(
                rendezvous(tmp_path / "g", 0, 2, lead_s=0.05),
                rendezvous(tmp_path / "g", 1, 2, lead_s=0.05),
            )
        )

    assert asyncio.run(both()) == [None, None]
    started = time.monotonic()
    note = asyncio.run(rendezvous(tmp_path / "alone", 0, 2, timeout_s=0.1))
    assert time.monotonic() - started < 1
    assert note == (
        "shard 1/2 started alone: only 1 of 2 shards were ready within 0 s (too few xdist workers?)"
    )
