"""Prompt tokens a server served from its prefix cache, summed over a run, and the note a run
gets when the cache helped without being asked to (``--llm-shared-prefix``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pytest_llmserver.stress.records import Record, is_ok, is_warmup, number

CACHE_NOTE_SHARE = 0.10
"""Cached share of fresh prompt tokens above which an unasked-for cache hit is reported."""


@dataclass(frozen=True)
class PromptCache:
    """Prompt and cached tokens of a run's successful measured requests.

    ``reporting`` counts the requests whose server said how many prompt tokens came from its
    cache (the others add to ``prompt_tokens`` only). The ``fresh_*`` counts leave out later
    turns of realistic-user sessions, whose own history may rightly come from the cache.
    """

    requests: int = 0
    reporting: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    fresh_prompt_tokens: int = 0
    fresh_cached_tokens: int = 0

    @property
    def cached_share(self) -> float | None:
        """Cached over prompt tokens; None when no server reported cached tokens."""
        return _share(self.cached_tokens, self.prompt_tokens, self.reporting)

    @property
    def fresh_cached_share(self) -> float | None:
        """The same over requests that carry no earlier turn of their session."""
        return _share(self.fresh_cached_tokens, self.fresh_prompt_tokens, self.reporting)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every count and both shares."""
        return {
            **asdict(self),
            "cached_share": self.cached_share,
            "fresh_cached_share": self.fresh_cached_share,
        }


def _share(cached: int, prompt: int, reporting: int) -> float | None:
    if not reporting or prompt <= 0:
        return None
    return cached / prompt


class PromptCacheCollector:
    """Builds a ``PromptCache`` from records fed one at a time."""

    def __init__(self) -> None:
        self._counts = dict.fromkeys(PromptCache.__dataclass_fields__, 0)

    def add(self, record: Record) -> None:
        if is_warmup(record) or not is_ok(record):
            return
        counts = self._counts
        prompt = int(number(record, "prompt_tokens") or 0)
        cached_value = number(record, "cached_tokens")
        cached = min(int(cached_value or 0), prompt)
        fresh = not number(record, "turn")  # None (not a session) or turn 0
        counts["requests"] += 1
        counts["reporting"] += cached_value is not None
        counts["prompt_tokens"] += prompt
        counts["cached_tokens"] += cached
        if fresh:
            counts["fresh_prompt_tokens"] += prompt
            counts["fresh_cached_tokens"] += cached

    def prompt_cache(self) -> PromptCache:
        """The counts of everything added so far."""
        return PromptCache(**self._counts)


def cache_note(cache: PromptCache, shared_prefix_tokens: object) -> str | None:
    """One line when more than ``CACHE_NOTE_SHARE`` of the fresh prompt tokens came from the
    server's cache and no shared prefix was asked for; None otherwise."""
    share = cache.fresh_cached_share
    if share is None or share <= CACHE_NOTE_SHARE or shared_prefix_tokens:
        return None
    return (
        f"prefix cache: {share:.0%} of prompt tokens ({cache.fresh_cached_tokens} of "
        f"{cache.fresh_prompt_tokens}) came from the server's cache without --llm-shared-prefix; "
        "TTFT and prefill figures are flattered (prompts start with their own salt, so the "
        "reused part is a shared system prompt or the chat template's opening tokens)"
    )


def cache_row(cache: PromptCache) -> str:
    """``cached of prompt tokens (share)``, or that the server did not say."""
    share = cache.cached_share
    if share is None:
        return f"not reported ({cache.prompt_tokens} prompt tokens)"
    return f"{cache.cached_tokens} of {cache.prompt_tokens} prompt tokens ({share:.1%})"
