"""One terminal line rewritten in place with live progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TextIO


class Writable(Protocol):
    """Where a progress line goes: a text stream, or pytest's reporter through an adapter."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def should_show_progress(stream: TextIO, quiet: bool) -> bool:
    """True when ``stream`` is a terminal and the user did not ask for quiet output."""
    return stream.isatty() and not quiet


class ProgressLine:
    """A status line rewritten with ``\\r``, at most every ``min_interval_s``; nothing is
    written when ``enabled`` is False. ``close`` ends the line, or wipes it with ``clear``."""

    def __init__(
        self,
        stream: Writable,
        *,
        enabled: bool = True,
        min_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._enabled = enabled
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._last_write_s: float | None = None
        self._width = 0

    def show(self, text: str, *, force: bool = False) -> None:
        """Show ``text`` unless the last write was under ``min_interval_s`` ago (or ``force``)."""
        if not self._enabled:
            return
        now = self._clock()
        last = self._last_write_s
        if not force and last is not None and now - last < self._min_interval_s:
            return
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = max(self._width, len(text))
        self._last_write_s = now

    def close(self, *, clear: bool = False) -> None:
        """End the line with a newline (or blank it with ``clear``) if anything was written."""
        if self._enabled and self._last_write_s is not None:
            end = "\r" + " " * self._width + "\r" if clear else "\n"
            self._stream.write(end)
            self._stream.flush()
        self._last_write_s = None
        self._width = 0
