"""Prometheus text → one flat scrape: every sample summed over its label sets (``le`` aside),
histogram buckets kept per bound. Parsing is ``prometheus_client``'s, not ours."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SNIPPET_CHARS = 60
"""How much of a body that is not Prometheus text an error quotes."""


class MetricsError(ValueError):
    """A metrics URL that cannot be used; the message is one line naming the URL."""


@dataclass
class Scrape:
    """One parsed answer: ``values`` by sample name (summed over label sets), ``buckets`` by
    histogram name as ``{upper bound: cumulative count}`` (bounds as text, ``+Inf`` included)."""

    values: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"values": self.values, "buckets": self.buckets}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scrape:
        """The scrape ``to_dict`` wrote; malformed parts are dropped."""
        values = data.get("values") if isinstance(data.get("values"), dict) else {}
        buckets = data.get("buckets") if isinstance(data.get("buckets"), dict) else {}
        return cls(
            values={str(k): float(v) for k, v in (values or {}).items() if _is_number(v)},
            buckets={
                str(name): {str(le): float(c) for le, c in bounds.items() if _is_number(c)}
                for name, bounds in (buckets or {}).items()
                if isinstance(bounds, dict)
            },
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _snippet(text: str) -> str:
    first = " ".join(text.strip().split())
    return repr(first[:SNIPPET_CHARS] + ("..." if len(first) > SNIPPET_CHARS else ""))


def parse_prometheus(text: str, url: str) -> Scrape:
    """Parse the Prometheus text exposition ``text`` fetched from ``url``; raise
    ``MetricsError`` ("<url> is not Prometheus text: ...") when it does not parse or holds no
    sample."""
    from prometheus_client.parser import text_string_to_metric_families

    scrape = Scrape()
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                value = float(sample.value)
                if math.isnan(value):
                    continue
                if sample.name.endswith("_bucket") and "le" in sample.labels:
                    bounds = scrape.buckets.setdefault(sample.name.removesuffix("_bucket"), {})
                    le = _bound(sample.labels["le"])
                    bounds[le] = bounds.get(le, 0.0) + value
                else:
                    scrape.values[sample.name] = scrape.values.get(sample.name, 0.0) + value
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MetricsError(
            f"{url} is not Prometheus text: {reason[:SNIPPET_CHARS]} (body starts {_snippet(text)})"
        ) from None
    if not scrape.values and not scrape.buckets:
        raise MetricsError(f"{url} is not Prometheus text: no metric samples in {_snippet(text)}")
    return scrape


def _bound(le: str) -> str:
    """A bucket bound in one spelling (``1``, ``1.0`` and ``1e0`` are one bound)."""
    try:
        number = float(le)
    except ValueError:
        return le
    return "+Inf" if math.isinf(number) and number > 0 else repr(number)
