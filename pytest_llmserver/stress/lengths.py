"""Token lengths a run asks for (``--llm-input-tokens`` / ``--llm-output-tokens``): the
``MEAN[:STDDEV[:MIN:MAX]]`` form, one reproducible draw per request, and what a run got
against what it asked for."""

from __future__ import annotations

import hashlib
import math
import random
import statistics
from dataclasses import dataclass
from typing import Any

from pytest_llmserver.stress.records import Record, is_ok, is_warmup, number

LENGTH_NOTE_SHARE = 0.05
"""Relative difference between actual and requested length above which a request is off."""

SPREAD_STDDEVS = 3.0
"""Without MIN:MAX, draws are kept within this many standard deviations of the mean."""


class WorkloadError(ValueError):
    """A workload the server cannot be given as asked (one line, naming the limit)."""


@dataclass(frozen=True)
class TokenLengths:
    """A length distribution in tokens: normal around ``mean`` with ``stddev``, rounded and
    kept within ``[low, high]`` (``MIN:MAX``; by default the mean ± 3 standard deviations,
    and never below 1)."""

    mean: int
    stddev: float = 0.0
    minimum: int | None = None
    maximum: int | None = None

    def __post_init__(self) -> None:
        if self.mean < 1:
            raise ValueError(f"a token length must be >= 1, got {self.mean}")
        if not self.stddev >= 0 or math.isinf(self.stddev):
            raise ValueError(f"the standard deviation must be finite and >= 0, got {self.stddev}")
        if self.minimum is not None and self.minimum < 1:
            raise ValueError(f"a token length must be >= 1, got MIN={self.minimum}")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not low <= self.mean <= high:
            raise ValueError(f"MIN <= MEAN <= MAX does not hold: {low} <= {self.mean} <= {high}")

    @classmethod
    def parse(cls, text: str | int) -> TokenLengths:
        """``MEAN``, ``MEAN:STDDEV`` or ``MEAN:STDDEV:MIN:MAX`` (whole tokens, stddev may be
        fractional); a ValueError saying what is wrong otherwise."""
        if isinstance(text, int) and not isinstance(text, bool):
            return cls(text)
        raw = str(text).strip()
        parts = raw.split(":")
        if len(parts) not in (1, 2, 4) or not all(p.strip() for p in parts):
            raise ValueError(f"expected MEAN[:STDDEV[:MIN:MAX]] in tokens, got {raw!r}")
        try:
            mean = int(parts[0])
            stddev = float(parts[1]) if len(parts) > 1 else 0.0
            low, high = (int(parts[2]), int(parts[3])) if len(parts) == 4 else (None, None)
        except ValueError:
            raise ValueError(
                f"expected whole numbers of tokens in MEAN[:STDDEV[:MIN:MAX]], got {raw!r}"
            ) from None
        return cls(mean, stddev, low, high)

    @property
    def low(self) -> int:
        """The shortest length a draw can give."""
        if self.minimum is not None:
            return self.minimum
        return max(1, math.floor(self.mean - SPREAD_STDDEVS * self.stddev))

    @property
    def high(self) -> int:
        """The longest length a draw can give."""
        if self.maximum is not None:
            return self.maximum
        return math.ceil(self.mean + SPREAD_STDDEVS * self.stddev)

    def text(self) -> str:
        """The canonical ``MEAN[:STDDEV[:MIN:MAX]]`` form."""
        if self.minimum is not None or self.maximum is not None:
            return f"{self.mean}:{self.stddev:g}:{self.low}:{self.high}"
        return f"{self.mean}:{self.stddev:g}" if self.stddev else str(self.mean)

    def __str__(self) -> str:
        return self.text()

    def draw(self, seed: int | str, index: int, stream: str) -> int:
        """Request ``index``'s length: the same for the same seed, index and ``stream``."""
        if not self.stddev:
            return min(max(self.mean, self.low), self.high)
        digest = hashlib.blake2b(f"{seed}/{stream}/{index}".encode(), digest_size=8).digest()
        value = random.Random(int.from_bytes(digest, "big")).gauss(self.mean, self.stddev)
        return min(max(round(value), self.low), self.high)


def coerce_lengths(value: TokenLengths | str | int | None, what: str) -> TokenLengths | None:
    """``value`` as ``TokenLengths`` (text and whole numbers are parsed); None stays None."""
    if value is None or isinstance(value, TokenLengths):
        return value
    try:
        return TokenLengths.parse(value)
    except ValueError as exc:
        raise WorkloadError(f"{what}: {exc}") from None


def check_context(
    input_tokens: TokenLengths | None, output_tokens: TokenLengths | None, context: int | None
) -> None:
    """A ``WorkloadError`` when the longest prompt plus the longest reply exceed ``context``
    (the server's limit per request; None: unknown, nothing to check)."""
    if context is None:
        return
    longest_in = input_tokens.high if input_tokens else 0
    longest_out = output_tokens.high if output_tokens else 0
    if longest_in + longest_out > context:
        parts = []
        if input_tokens:
            parts.append(f"input up to {longest_in}")
        if output_tokens:
            parts.append(f"output up to {longest_out}")
        raise WorkloadError(
            f"requested token lengths ({' + '.join(parts)} = {longest_in + longest_out} tokens) "
            f"exceed the server's context of {context} tokens per request"
        )


@dataclass(frozen=True)
class LengthStats:
    """Requested against actual lengths of one direction (input or output) over a run."""

    requests: int = 0
    requested_mean: float | None = None
    actual_mean: float | None = None
    requested_p50: float | None = None
    actual_p50: float | None = None
    requested_min: int | None = None
    requested_max: int | None = None
    actual_min: int | None = None
    actual_max: int | None = None
    off: int = 0
    """Requests whose actual length differs from the requested one by more than 5%."""
    worst_relative: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


_FIELDS = {
    "input": ("requested_input_tokens", "prompt_tokens"),
    "output": ("requested_output_tokens", "output_tokens"),
}
"""Per direction, the record's requested and actual length fields."""


class LengthCollector:
    """Pairs of (requested, actual) lengths of successful measured requests, fed by record."""

    def __init__(self) -> None:
        self._pairs: dict[str, list[tuple[int, int]]] = {k: [] for k in _FIELDS}

    def add(self, record: Record) -> None:
        if is_warmup(record) or not is_ok(record):
            return
        for direction, (asked_key, got_key) in _FIELDS.items():
            asked, got = number(record, asked_key), number(record, got_key)
            if asked is not None and got is not None:
                self._pairs[direction].append((int(asked), int(got)))

    def lengths(self) -> dict[str, LengthStats]:
        """Per direction that was asked for at least once, its ``LengthStats``."""
        return {d: _stats(pairs) for d, pairs in self._pairs.items() if pairs}


def _stats(pairs: list[tuple[int, int]]) -> LengthStats:
    asked = [a for a, _ in pairs]
    got = [g for _, g in pairs]
    relative = [abs(g - a) / a for a, g in pairs]
    return LengthStats(
        requests=len(pairs),
        requested_mean=statistics.fmean(asked),
        actual_mean=statistics.fmean(got),
        requested_p50=float(statistics.median(asked)),
        actual_p50=float(statistics.median(got)),
        requested_min=min(asked),
        requested_max=max(asked),
        actual_min=min(got),
        actual_max=max(got),
        off=sum(r > LENGTH_NOTE_SHARE for r in relative),
        worst_relative=max(relative),
    )


def length_notes(lengths: dict[str, LengthStats], output_control: object = None) -> list[str]:
    """A warning per direction where some request's actual length was more than 5% off the
    requested one (with the output control the run had, when it could not fix lengths)."""
    notes = []
    for direction, stats in lengths.items():
        if not stats.off:
            continue
        why = ""
        if direction == "output" and output_control:
            why = f" (output length control on this server: {output_control})"
        notes.append(
            f"warning: {stats.off} of {stats.requests} requests got {direction} lengths more "
            f"than {LENGTH_NOTE_SHARE:.0%} off the requested ones (mean {stats.actual_mean:.1f} "
            f"actual vs {stats.requested_mean:.1f} requested, worst "
            f"{stats.worst_relative or 0:.0%} off){why}"
        )
    return notes


def length_row(stats: LengthStats) -> str:
    """``requested mean (min..max), actual mean (min..max)`` for a report table."""
    return (
        f"requested {stats.requested_mean or 0:.1f} ({stats.requested_min}..{stats.requested_max})"
        f", actual {stats.actual_mean or 0:.1f} ({stats.actual_min}..{stats.actual_max}); "
        f"{stats.off} of {stats.requests} more than {LENGTH_NOTE_SHARE:.0%} off"
    )
