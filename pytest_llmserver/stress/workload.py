"""Prompts for the stress modes (our own texts), salts, shared prefixes, salted long prompts,
session scripts."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

SHORT_PROMPTS: tuple[str, ...] = (
    "Explain in two sentences why bread goes stale.",
    "List three practical uses of a paperclip besides holding paper.",
    "What is the difference between weather and climate? Answer briefly.",
    "Give a one-paragraph summary of how a bicycle's gears help a rider.",
    "Suggest a name for a small bakery that sells only rye bread, and say why.",
    "Describe the smell of a pine forest after rain in a few words.",
    "Why do cats knock things off tables? Offer two possible reasons.",
    "Write a short, friendly reminder to water the office plants.",
)

FOLLOW_UPS: tuple[str, ...] = (
    "Can you make that shorter?",
    "Give me one more example.",
    "Why is that the case?",
    "Now say the same thing for a ten-year-old.",
    "What would be a common mistake here?",
    "Summarise our conversation so far in one sentence.",
)

_FILLER_SENTENCES: tuple[str, ...] = (
    "The harbour office opens at seven and keeps a ledger of every boat that leaves.",
    "A gull landed on the railing and watched the fishermen sort their nets.",
    "Each morning the baker counts the loaves twice before the van arrives.",
    "The old lighthouse keeper wrote down the wind speed in pencil every hour.",
    "Tourists queue for the ferry while the café plays music from the radio.",
    "Ropes, buoys and crates are stacked by colour along the eastern pier.",
    "When the tide is low the children search the rock pools for small crabs.",
    "The town council meets on Thursdays in the room above the post office.",
)


def filler(words: int, rng: random.Random) -> str:
    """About ``words`` words of varied, meaningless-but-natural text."""
    parts: list[str] = []
    count = 0
    while count < words:
        sentence = rng.choice(_FILLER_SENTENCES)
        parts.append(sentence)
        count += len(sentence.split())
    return " ".join(parts)


SHARED_PREFIX_WORDS_PER_TOKEN = 0.75
"""Words of filler per requested shared-prefix token (about 4 characters a token)."""

_SHARED_PREFIX_SEED = "pytest-llmserver shared prefix"


def salt(seed: int | str, index: int) -> str:
    """A short tag unique to request ``index`` of a run with ``seed`` (reproducible), e.g.
    ``[r7f3a2]``; put first, it keeps every prompt apart from the others' cached prefixes."""
    digest = hashlib.blake2b(f"{seed}/{index}".encode(), digest_size=3).hexdigest()
    return f"[r{digest}]"


def shared_prefix(tokens: int) -> str:
    """The same filler of about ``tokens`` tokens for every request and run ("" for 0)."""
    if tokens <= 0:
        return ""
    words = max(1, round(tokens * SHARED_PREFIX_WORDS_PER_TOKEN))
    return " ".join(filler(words, random.Random(_SHARED_PREFIX_SEED)).split()[:words])


def salted(text: str, seed: int | str, index: int, prefix: str = "") -> str:
    """``text`` behind its salt, behind ``prefix`` (a ``shared_prefix``) when one is given."""
    head = f"{prefix}\n\n" if prefix else ""
    return f"{head}{salt(seed, index)} {text}"


def long_prompt(words: int, salt: str, rng: random.Random) -> str:
    """A prompt of about ``words`` words; the salt comes first so no prefix cache can help."""
    return (
        f"[{salt}] Read the notes below, then answer with one word: which place do they "
        f"describe?\n\n{filler(words, rng)}"
    )


@dataclass(frozen=True)
class SessionProfile:
    """How many turns a session has: weights over (min, max) turn ranges."""

    name: str
    depths: tuple[tuple[float, int, int], ...]

    def turns(self, rng: random.Random) -> int:
        """Draw the number of turns of one session."""
        weights = [w for w, _, _ in self.depths]
        _, low, high = rng.choices(self.depths, weights=weights)[0]
        return rng.randint(low, high)

    @property
    def mean_turns(self) -> float:
        """The mean number of turns of a session."""
        total = sum(w for w, _, _ in self.depths)
        return sum(w * (low + high) / 2 for w, low, high in self.depths) / total


PROFILES: dict[str, SessionProfile] = {
    "one-shot": SessionProfile("one-shot", ((1.0, 1, 1),)),
    "short": SessionProfile("short", ((1.0, 2, 4),)),
    "long": SessionProfile("long", ((1.0, 5, 10),)),
    "mixed": SessionProfile("mixed", ((0.5, 1, 1), (0.35, 2, 4), (0.15, 5, 10))),
}

OUTPUT_MIX: tuple[tuple[float, int], ...] = ((0.5, 64), (0.35, 160), (0.15, 384))
"""Weights over max_tokens for realistic users: mostly short answers, some long."""


def session_profile(name: str) -> SessionProfile:
    """The named profile, or a ValueError listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown session profile {name!r} (known: {known})") from None
