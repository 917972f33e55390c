"""The one record writer: JSON lines, redacted, written to the file in batches.

A batch is written after ``flush_every`` records, or ``flush_after_s`` seconds after its first
record while an event loop runs (without one, each record is written at once). Closing writes
what is left and syncs the file, so an interrupted or cancelled run keeps every record; a
killed process loses at most its last ``flush_after_s`` of them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_llmserver._util import Redactor

FLUSH_EVERY = 256
"""Records held before they are written to the file."""

FLUSH_AFTER_S = 0.05
"""Longest time a record waits to be written while an event loop runs."""

_MEMO_MAX = 4096
_PLAIN = frozenset({int, float, bool})  # exactly these types: nothing to redact


class Scrubber:
    """``Redactor.scrub`` with the redaction of each string remembered: records repeat their
    keys and most of their strings (model, URL, sources), so each is redacted once."""

    def __init__(self, redactor: Redactor) -> None:
        self._text = redactor.text
        self._memo: dict[str, str] = {}

    def text(self, value: str) -> str:
        """``value`` redacted."""
        done = self._memo.get(value)
        if done is None:
            done = self._text(value)
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[value] = done
        return done

    def __call__(self, value: Any) -> Any:
        """A copy of ``value`` with every string in it (keys included) redacted."""
        if value is None or type(value) in _PLAIN:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(key, str):
                    key = self.text(key)
                if item is not None and type(item) not in _PLAIN:
                    item = self(item)
                out[key] = item
            return out
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value


class JsonlSink:
    """The one record writer: one JSON object per line as requests finish, so memory does not
        grow with the run. Lines are written in batches (see the module docstring) and the file is
        synced to disk on close. With a ``redactor`` every record is redacted before it is written
        (and before ``on_record`` sees it); ``annotate`` adds what the engine does not know, e.g.
    the lengths a request asked for. ``started`` is counted by the engine to report requests
        in flight."""

    def __init__(
        self,
        path: Path,
        on_record: Callable[[dict[str, Any], int], None] | None = None,
        *,
        redactor: Redactor | None = None,
        flush_every: int = FLUSH_EVERY,
        flush_after_s: float = FLUSH_AFTER_S,
        annotate: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("w", encoding="utf-8")
        self._on_record = on_record
        self._annotate = annotate
        self._scrub = None if redactor is None else Scrubber(redactor)
        self._pending: list[str] = []
        self._flush_every = max(1, flush_every)
        self._flush_after_s = flush_after_s
        self._timer: asyncio.TimerHandle | None = None
        self.count = 0
        self.started = 0

    @property
    def in_flight(self) -> int:
        """Requests started and not yet written."""
        return self.started - self.count

    def write(self, record: dict[str, Any]) -> None:
        """Add one record (and tell ``on_record``, e.g. a progress line, with in-flight);
        ``annotate`` may add fields to it first."""
        if self._annotate is not None:
            self._annotate(record)
        if self._scrub is not None:
            record = self._scrub(record)
        self._pending.append(json.dumps(record, default=str) + "\n")
        self.count += 1
        if len(self._pending) >= self._flush_every:
            self.flush()
        elif self._timer is None:
            self._schedule()
        if self._on_record is not None:
            self._on_record(record, self.in_flight)

    def _schedule(self) -> None:
        """Write the pending lines ``flush_after_s`` from now (at once without an event loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._timer = loop.call_later(self._flush_after_s, self.flush)

    def flush(self) -> None:
        """Write the pending lines to the file now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending and not self._file.closed:
            self._file.write("".join(self._pending))
            self._file.flush()
        self._pending.clear()

    def close(self) -> None:
        """Write what is pending, sync to disk and close the file (again: nothing)."""
        if self._file.closed:
            return
        try:
            self.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
