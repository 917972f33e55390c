"""The scraped time series of one run: samples stamped by wall clock and ``perf_counter``,
put on the records' time axis, written as JSONL next to the records and read back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmserver.servermetrics.prom import Scrape

SERIES_SUFFIX = ".server-metrics.jsonl"


@dataclass
class Sample:
    """One scrape of one endpoint: when (``t_unix_s`` wall clock, ``t_perf_s``
    ``perf_counter``, ``t_s`` seconds from the run's measurement origin once aligned), and
    what it gave: a Prometheus ``scrape``, Ollama's loaded ``models``, or an ``error``."""

    url: str
    t_unix_s: float
    t_perf_s: float
    scrape: Scrape | None = None
    models: list[dict[str, Any]] | None = None
    error: str | None = None
    t_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "url": self.url,
            "t_unix_s": self.t_unix_s,
            "t_perf_s": self.t_perf_s,
            "t_s": self.t_s,
        }
        if self.scrape is not None:
            out.update(self.scrape.to_dict())
        if self.models is not None:
            out["models"] = self.models
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sample:
        """The sample ``to_dict`` wrote."""
        has_scrape = "values" in data or "buckets" in data
        models = data.get("models")
        return cls(
            url=str(data.get("url", "")),
            t_unix_s=float(data.get("t_unix_s") or 0.0),
            t_perf_s=float(data.get("t_perf_s") or 0.0),
            scrape=Scrape.from_dict(dict(data)) if has_scrape else None,
            models=[m for m in models if isinstance(m, dict)] if isinstance(models, list) else None,
            error=None if data.get("error") is None else str(data["error"]),
            t_s=None if data.get("t_s") is None else float(data["t_s"]),
        )


@dataclass
class Endpoint:
    """A URL scraped during the run: ``kind`` ``prometheus`` (with its ``family``) or
    ``ollama_ps``; ``headers`` go with each request (the target's API key only)."""

    url: str
    kind: str
    family: str = "generic"
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, headers left out."""
        return {"url": self.url, "kind": self.kind, "family": self.family}


@dataclass
class Series:
    """What a run scraped: its endpoints, samples in time order, and notes on what went
    wrong (never raised)."""

    endpoints: list[Endpoint] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    interval_s: float = 1.0
    notes: list[str] = field(default_factory=list)

    def of(self, url: str) -> list[Sample]:
        """The samples of one endpoint."""
        return [sample for sample in self.samples if sample.url == url]

    def align(self, records: Iterable[Mapping[str, Any]], t0_unix_s: float | None) -> str:
        """Set every sample's ``t_s`` on the records' axis; how it was aligned. By
        ``perf_counter`` (the (upper) median of ``t_send_ns`` - ``sent_s`` over the records: exact,
        one clock), else by wall clock against ``t0_unix_s``."""
        offsets = [
            float(r["t_send_ns"]) / 1e9 - float(r["sent_s"])
            for r in records
            if isinstance(r.get("t_send_ns"), (int, float))
            and r["t_send_ns"]
            and isinstance(r.get("sent_s"), (int, float))
        ]
        if offsets:
            origin = sorted(offsets)[len(offsets) // 2]
            for sample in self.samples:
                sample.t_s = sample.t_perf_s - origin
            return "perf_counter"
        if t0_unix_s is not None:
            for sample in self.samples:
                sample.t_s = sample.t_unix_s - t0_unix_s
            return "wall clock"
        self.notes.append("samples not aligned with the records: no send stamps and no origin")
        return "none"

    def write(self, path: Path, scrub: Callable[[Any], Any] = lambda value: value) -> Path:
        """Write a header line (endpoints, interval, notes) then one line per sample, each
        through ``scrub`` (e.g. ``Redactor.scrub``: a URL may hold a password)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "server_metrics": 1,
            "endpoints": [e.to_dict() for e in self.endpoints],
            "interval_s": self.interval_s,
            "notes": self.notes,
        }
        lines = [json.dumps(scrub(header))]
        lines += [json.dumps(scrub(sample.to_dict())) for sample in self.samples]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def series_path(records_path: Path) -> Path:
    """Where a run's series lives: next to its records, ``<records stem>.server-metrics.jsonl``."""
    return records_path.with_name(records_path.stem + SERIES_SUFFIX)


def read_series(path: Path) -> Series | None:
    """The series ``Series.write`` wrote; ``None`` when there is no such file. Lines that do
    not parse are skipped (a chart or summary is never worth failing a report over)."""
    if not path.is_file():
        return None
    series = Series()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(data, dict):
                continue
            if "server_metrics" in data:
                series.endpoints = [
                    Endpoint(str(e.get("url")), str(e.get("kind")), str(e.get("family")))
                    for e in data.get("endpoints") or []
                    if isinstance(e, dict)
                ]
                series.interval_s = float(data.get("interval_s") or 1.0)
                series.notes = [str(n) for n in data.get("notes") or []]
            elif "url" in data:
                series.samples.append(Sample.from_dict(data))
    return series
