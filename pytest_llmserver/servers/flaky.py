"""The flaky scripted model: ``flaky-NN`` solves each tool-bench trial with probability NN %.

Whether a trial passes depends only on the request's sampling seed and the task, so every turn
of one trial agrees, trials sent with different seeds (``--llm-repeat``) differ, and a rerun
with the same seeds repeats them. A trial it fails gets an empty final answer.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_NAME = re.compile(r"flaky-(\d{1,3})")


def flaky_probability(model: str) -> float | None:
    """``flaky-60`` -> 0.6; None for any other name (or a percentage above 100)."""
    match = _NAME.fullmatch(model)
    if match is None or int(match.group(1)) > 100:
        return None
    return int(match.group(1)) / 100


def request_seed(body: dict[str, Any]) -> int | None:
    """The sampling seed of a chat request body (OpenAI top level, Ollama ``options``)."""
    options = body.get("options")
    seed = body.get("seed", options.get("seed") if isinstance(options, dict) else None)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def trial_passes(probability: float, seed: int | None, task_id: str) -> bool:
    """Whether the trial of ``task_id`` sent with ``seed`` passes: a uniform draw in [0, 1)
    from a hash of both, below ``probability`` (no seed draws as seed 0)."""
    digest = hashlib.sha256(f"{seed or 0}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < probability
