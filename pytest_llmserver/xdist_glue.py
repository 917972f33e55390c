"""pytest-xdist scheduling for ``--llm-shards``: shard k of every sharded test goes to one
worker and shards of one test to different workers, so they can start together."""

from __future__ import annotations

import re
from typing import Any

SHARD_ID = re.compile(r"shard(\d+)of\d+\]$")


def shard_scope(nodeid: str) -> str:
    """The scheduling unit of a test: ``llm-shard<k>`` for shard k, else the test itself."""
    match = SHARD_ID.search(nodeid)
    return f"llm-shard{match.group(1)}" if match else nodeid


def make_shard_scheduler(config: Any, log: Any) -> Any:
    """An xdist scheduler that keeps each shard index's tests on one worker (xdist's
    scope scheduling with our scopes; the largest scopes, the shard groups, are handed out
    first, one to a worker)."""
    from xdist.scheduler import LoadScopeScheduling

    class ShardScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return shard_scope(nodeid)

    return ShardScheduling(config, log)
