"""The per-request record of a stress run: its schema, the one JSONL writer and the one reader.

Every request a stress mode sends (warm-up and calibration probes included) becomes one flat
JSON object on one line of ``stress-<mode>[-<id>].jsonl``, written as the request finishes.
``RECORD_FIELDS`` names every field with its unit. Times ``*_s`` are seconds, ``*_ns`` are
nanoseconds, ``*_tps`` are tokens per second. ``sent_s`` / ``end_s`` / ``scheduled_s`` count from
the run's measurement origin (after warm-up, so warm-up records have negative values); the other
intervals count from "send" (the request fully on the wire). ``null`` (or a missing key) means
"not measured". Merged shard records carry one more field, ``shard`` (0-based).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pytest_llmserver.client import ChatMetrics
from pytest_llmserver.stress.sink import JsonlSink as JsonlSink  # its former home

Record = Mapping[str, Any]

RECORD_FIELDS: tuple[tuple[str, str], ...] = (
    # The request: what the stress engine knows.
    ("index", "request number in its run (warm-up: negative; realistic user: session*1000+turn)"),
    ("warmup", "true for warm-up and calibration requests, which no statistic counts"),
    ("scheduled_s", "s, when an open-loop schedule wanted it sent; null in closed loop"),
    ("sent_s", "s, when it was sent; null when not timed by the engine (tool-bench steps)"),
    ("queue_s", "s, sent_s - scheduled_s: client-side wait behind max-in-flight (open loop)"),
    ("end_s", "s, when its outcome was known"),
    ("ok", "true when it succeeded"),
    ("error_class", "error vocabulary of pytest_llmserver.client.ERROR_CLASSES; null when ok"),
    ("error", "error message; null when ok"),
    ("session_id", "realistic-user session number; null in other modes"),
    ("turn", "0-based turn within its session; null in other modes"),
    ("task_id", "tool-bench task id; null in other modes"),
    ("step", "0-based model turn within its tool-bench task; null in other modes"),
    # What the client measured (``ChatMetrics``); partial for failed requests.
    ("model", "model name sent"),
    ("api", "protocol used: openai or ollama"),
    ("url", "endpoint URL"),
    ("t_call_ns", "ns, perf_counter_ns when the client call began (0: did not happen)"),
    ("t_send_ns", "ns, perf_counter_ns when the request was fully on the wire"),
    ("t_first_byte_ns", "ns, perf_counter_ns of the first response event"),
    ("t_first_token_ns", "ns, perf_counter_ns of the first generated token"),
    ("t_first_content_ns", "ns, perf_counter_ns of the first answer (non-reasoning) token"),
    ("t_first_tool_call_ns", "ns, perf_counter_ns of the first tool-call delta"),
    ("t_last_token_ns", "ns, perf_counter_ns of the last generated token"),
    ("t_decode_end_ns", "ns, perf_counter_ns where decoding ended (last token or finish event)"),
    ("t_end_ns", "ns, perf_counter_ns of the last response event"),
    ("pool_wait_s", "s, waiting for a pooled connection before send"),
    ("connect_s", "s, TCP (and TLS) connect before send"),
    ("ttfb_s", "s, send -> first response event"),
    ("ttft_s", "s, send -> first generated token, reasoning or answer"),
    ("ttfc_s", "s, send -> first answer token"),
    ("ttf_tool_call_s", "s, send -> first tool-call delta"),
    ("e2e_s", "s, send -> last response event"),
    ("itl_s", "list of s, gaps between successive token-bearing events"),
    ("tpot_s", "s per token, (decode end - first token) / (output_tokens - 1)"),
    ("decode_tps", "tok/s, (output_tokens - 1) / (decode end - first token), client side"),
    ("prompt_tokens", "tokens in the prompt"),
    ("prompt_tokens_source", "where prompt_tokens came from: usage, server or estimate"),
    ("output_tokens", "tokens generated, reasoning included"),
    ("output_tokens_source", "where output_tokens came from: usage, server or estimate"),
    ("reasoning_tokens", "reasoning tokens generated"),
    ("reasoning_tokens_source", "where reasoning_tokens came from: usage, server or estimate"),
    ("cached_tokens", "prompt tokens the server served from its cache"),
    ("token_events", "token-bearing stream events received"),
    ("prompt_eval_duration_ns", "ns, prefill time as the server reports it"),
    ("load_duration_ns", "ns, model load time for this request (Ollama's load_duration)"),
    ("eval_duration_ns", "ns, decode time as the server reports it"),
    ("server_prefill_tps", "tok/s, prefill speed as the server reports it"),
    ("server_decode_tps", "tok/s, decode speed as the server reports it"),
    ("finish_reason", "why generation stopped (stop, length, tool_calls, ...)"),
    ("http_status", "HTTP status code of the response"),
    ("usage_fallback", "true when the server refused stream usage and it was retried without"),
    ("stale_connection_retry", "true when a dropped keep-alive connection was retried once"),
    ("send_traced", "true when send was stamped by the transport trace (exact)"),
    ("suspect", "names of server-reported figures outside physical ranges (dropped, not used)"),
)
"""Every field of a record as ``TestResult.to_record`` writes it: (name, unit and meaning)."""

_METRIC_FIELDS = frozenset(f.name for f in fields(ChatMetrics))


@dataclass
class TestResult:
    """One request's record: when it was due, sent and done, how it went, what it measured.

    The seed's names are read-only views: ``request_id``, ``status``, ``error_msg``,
    ``duration``, ``ttft``, ``prompt_tokens``, ``completion_tokens``, ``decode_tps`` and
    ``turn_number``; like the seed's they are 0 / ``""`` when not measured.
    """

    __test__ = False  # not a pytest test class

    index: int
    warmup: bool
    scheduled_s: float | None
    sent_s: float | None
    end_s: float | None
    ok: bool
    error_class: str | None = None
    error: str | None = None
    session_id: int | None = None
    turn: int | None = None
    task_id: str | None = None
    step: int | None = None
    metrics: ChatMetrics = field(default_factory=ChatMetrics)

    @property
    def queue_s(self) -> float | None:
        """Sent minus scheduled (open loop); None in closed loop."""
        if self.scheduled_s is None or self.sent_s is None:
            return None
        return self.sent_s - self.scheduled_s

    def to_record(self) -> dict[str, Any]:
        """Flat JSON-ready dict: these fields plus every ``ChatMetrics`` field."""
        record = self.metrics.to_dict()
        record.update(
            index=self.index,
            warmup=self.warmup,
            scheduled_s=self.scheduled_s,
            sent_s=self.sent_s,
            queue_s=self.queue_s,
            end_s=self.end_s,
            ok=self.ok,
            error_class=self.error_class,
            error=self.error,
            session_id=self.session_id,
            turn=self.turn,
            task_id=self.task_id,
            step=self.step,
        )
        return record

    @classmethod
    def from_record(cls, record: Record) -> TestResult:
        """The ``TestResult`` a record was written from (``ChatMetrics`` rebuilt); unknown keys
        are ignored, missing optional ones take their defaults. ``index`` and ``ok`` are needed."""
        missing = [name for name in ("index", "ok") if record.get(name) is None]
        if missing:
            raise ValueError(f"record lacks {', '.join(missing)}: {dict(record)!r}")
        metrics = ChatMetrics(**{k: v for k, v in record.items() if k in _METRIC_FIELDS})
        return cls(
            index=int(record["index"]),
            warmup=bool(record.get("warmup", False)),
            scheduled_s=record.get("scheduled_s"),
            sent_s=record.get("sent_s"),
            end_s=record.get("end_s"),
            ok=record["ok"] is True,
            error_class=record.get("error_class"),
            error=record.get("error"),
            session_id=record.get("session_id"),
            turn=record.get("turn"),
            task_id=record.get("task_id"),
            step=record.get("step"),
            metrics=metrics,
        )

    # The seed's names -------------------------------------------------------------------------

    @property
    def request_id(self) -> int:
        """``index``."""
        return self.index

    @property
    def status(self) -> str:
        """``"success"`` or ``"error"``."""
        return "success" if self.ok else "error"

    @property
    def error_msg(self) -> str:
        """``error``, ``""`` when it succeeded."""
        return self.error or ""

    @property
    def duration(self) -> float:
        """End-to-end seconds from send (``metrics.e2e_s``); 0.0 when not measured."""
        return self.metrics.e2e_s or 0.0

    @property
    def ttft(self) -> float:
        """``metrics.ttft_s``; 0.0 when not measured."""
        return self.metrics.ttft_s or 0.0

    @property
    def prompt_tokens(self) -> int:
        """``metrics.prompt_tokens``; 0 when unknown."""
        return self.metrics.prompt_tokens or 0

    @property
    def completion_tokens(self) -> int:
        """``metrics.output_tokens`` (reasoning included)."""
        return self.metrics.output_tokens

    @property
    def decode_tps(self) -> float:
        """``metrics.decode_tps``; 0.0 when not measured."""
        return self.metrics.decode_tps or 0.0

    @property
    def turn_number(self) -> int:
        """1-based turn within a realistic-user session (``turn + 1``); 0 in other modes."""
        return 0 if self.turn is None else self.turn + 1


def read_records(path: str | Path, *, skip_invalid: bool = False) -> Iterator[dict[str, Any]]:
    """The records of a JSONL file one by one; blank lines skipped.

    A line that is not a JSON object raises ``ValueError`` naming the file and line number,
    or is skipped with ``skip_invalid`` (then undecodable bytes are replaced, not fatal).
    """
    errors = "replace" if skip_invalid else "strict"
    with open(path, encoding="utf-8", errors=errors) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if skip_invalid:
                    continue
                raise ValueError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                if skip_invalid:
                    continue
                kind = type(record).__name__
                raise ValueError(f"{path}:{lineno}: expected a JSON object, got {kind}")
            yield record


PART_DIRS = (".points", ".probes")
"""Directories beside a run's records file where a multi-part run (sweep points, capacity
probes) keeps every part's records (the run's own file then repeats one of them)."""

_TIMES = ("scheduled_s", "sent_s", "end_s")


def run_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record a run wrote: its warm-up and its parts' files when it has any
    (``PART_DIRS``, each on its own clock, shifted onto the warm-up's by their ``t_send_ns``
    stamps), else its file."""
    path = Path(path)
    stem = path.with_suffix("")
    parts = sorted(
        file
        for suffix in PART_DIRS
        if (folder := stem.with_name(stem.name + suffix)).is_dir()
        for file in folder.glob("*.jsonl")
    )
    if not parts:
        return list(read_records(path)) if path.is_file() else []
    out: list[dict[str, Any]] = []
    base: float | None = None
    own = list(read_records(path)) if path.is_file() else []
    warmup = [r for r in own if r.get("warmup")]  # the run's warm-up is in its own file only
    for records in [warmup, *(list(read_records(file)) for file in parts)]:
        origin = _origin_s(records)
        shift = 0.0 if origin is None or base is None else origin - base
        base = origin if base is None else base
        for record in records:
            for key in _TIMES:
                if shift and isinstance(record.get(key), (int, float)):
                    record[key] += shift
        out += records
    return out


def _origin_s(records: list[dict[str, Any]]) -> float | None:
    """The perf-counter second a part's clock started at (the median over its records)."""
    offsets = sorted(
        r["t_send_ns"] / 1e9 - r["sent_s"]
        for r in records
        if isinstance(r.get("t_send_ns"), int)
        and r["t_send_ns"]
        and isinstance(r.get("sent_s"), (int, float))
    )
    return offsets[len(offsets) // 2] if offsets else None


def iter_records(path: str | Path, chunk_size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
    """Yield the JSONL file's records in lists of at most ``chunk_size``; blank lines skipped.

    A line that is not a JSON object raises ``ValueError`` naming the file and line number.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    chunk: list[dict[str, Any]] = []
    for record in read_records(path):
        chunk.append(record)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_results(path: str | Path, *, warmup: bool = False) -> list[TestResult]:
    """The file's records as ``TestResult`` objects in file order; warm-up ones only with
    ``warmup``."""
    return [
        TestResult.from_record(record)
        for record in read_records(path)
        if warmup or not is_warmup(record)
    ]


# Reading fields of a record ------------------------------------------------------------------


def number(record: Record, key: str) -> float | None:
    """The record's number under ``key``; ``None`` when missing, ``None`` or NaN."""
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"record field {key!r} is not a number: {value!r}")
    result = float(value)
    return None if math.isnan(result) else result


def queue_seconds(record: Record) -> float | None:
    """``queue_s``, or ``sent_s - scheduled_s`` when only those are there."""
    queue = number(record, "queue_s")
    if queue is not None:
        return queue
    sent, scheduled = number(record, "sent_s"), number(record, "scheduled_s")
    return sent - scheduled if sent is not None and scheduled is not None else None


def metric_value(record: Record, metric: str) -> float | None:
    """The record's value of a scalar metric (``queue_s`` derived when needed)."""
    return queue_seconds(record) if metric == "queue_s" else number(record, metric)


def gaps(record: Record) -> list[float]:
    """The record's inter-token gaps (``itl_s``), ``None`` and NaN dropped."""
    values = record.get("itl_s") or []
    if not isinstance(values, list):
        raise ValueError(f"record field 'itl_s' is not a list: {values!r}")
    out: list[float] = []
    for gap in values:
        if gap is None:
            continue
        if isinstance(gap, bool) or not isinstance(gap, (int, float)):
            raise ValueError(f"record field 'itl_s' holds a non-number: {gap!r}")
        if not math.isnan(gap):
            out.append(float(gap))
    return out


def is_warmup(record: Record) -> bool:
    """True for a warm-up (or calibration) record."""
    return bool(record.get("warmup", False))


def is_ok(record: Record) -> bool:
    """True for a successful request."""
    return record.get("ok") is True
