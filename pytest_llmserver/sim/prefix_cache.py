"""The simulator's prefix cache: a small LRU of recent prompts per server; a new prompt's
longest common prefix with one of them, in whole blocks, counts as served from the cache."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

CACHE_PROMPTS = 16
"""Prompts the cache keeps (least recently used dropped first)."""

CACHE_BLOCK_TOKENS = 16
"""Tokens per cache block; only whole blocks of a common prefix are reused (as vLLM does)."""


def common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    """Number of leading tokens ``a`` and ``b`` share."""
    count = 0
    for left, right in zip(a, b, strict=False):
        if left != right:
            break
        count += 1
    return count


class PrefixCache:
    """Recent prompts (token lists) of one server; ``admit`` says how much of a new one is
    cached and keeps it. At least the last token of a prompt is always computed."""

    def __init__(
        self, prompts: int = CACHE_PROMPTS, block_tokens: int = CACHE_BLOCK_TOKENS
    ) -> None:
        if prompts < 1 or block_tokens < 1:
            raise ValueError(f"cache sizes must be >= 1, got {prompts} and {block_tokens}")
        self.prompts = prompts
        self.block_tokens = block_tokens
        self._kept: OrderedDict[tuple[str, ...], None] = OrderedDict()

    def admit(self, tokens: Sequence[str]) -> int:
        """Cached tokens of the prompt ``tokens`` (whole blocks, at most all but one token),
        which then becomes the most recently used entry."""
        key = tuple(tokens)
        best = max((common_prefix(kept, key) for kept in self._kept), default=0)
        self._kept[key] = None
        self._kept.move_to_end(key)
        while len(self._kept) > self.prompts:
            self._kept.popitem(last=False)
        usable = min(best, len(key) - 1)
        return max(usable, 0) // self.block_tokens * self.block_tokens
