"""Progress of a discovery run, told to a callback of either accepted form.

The forms, told apart once by the callable's signature:

- ``callback(progress: ScanProgress)``, this package's own (sync, or async);
- ``callback(done: int, total: int)``, the seed's ``progress_callback`` (sync, or async as the
  seed awaited it). It gets the counts of every stage as that stage reports them.

A callable that binds two positional arguments and not one is of the seed's form; any other
(one that binds one, or either, such as ``f(*args)``) gets a ``ScanProgress``. A callback's
coroutine is awaited where the progress happens, before the scan goes on: none is left running.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias, cast


@dataclass(frozen=True)
class ScanProgress:
    """Where a discovery run is: ``phase`` (cache, localhost, subnet) and ``stage``
    (health, connect, fingerprint) with counts so far."""

    phase: str
    stage: str
    done: int
    total: int
    open: int = 0
    found: int = 0


ProgressCallback: TypeAlias = Callable[[ScanProgress], Awaitable[None] | None]
"""This package's form: gets a ``ScanProgress``; may return an awaitable, which is awaited."""

SeedProgressCallback: TypeAlias = Callable[[int, int], Awaitable[None] | None]
"""The seed's form: gets ``(done, total)``; may be async."""

AnyProgressCallback: TypeAlias = ProgressCallback | SeedProgressCallback


def takes_done_total(callback: Callable[..., object]) -> bool:
    """Whether ``callback`` is of the seed's ``(done, total)`` form (see the module text)."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):
        return False  # not inspectable (some builtins): the package's own form
    return _binds(signature, 2) and not _binds(signature, 1)


def _binds(signature: inspect.Signature, count: int) -> bool:
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


class ProgressReporter:
    """Tells each ``ScanProgress`` to a callback of either form (or to nobody)."""

    __slots__ = ("_own", "_seed")

    def __init__(self, callback: AnyProgressCallback | None) -> None:
        self._own: ProgressCallback | None = None
        self._seed: SeedProgressCallback | None = None
        if callback is not None and takes_done_total(callback):
            self._seed = cast(SeedProgressCallback, callback)
        elif callback is not None:
            self._own = cast(ProgressCallback, callback)

    async def __call__(self, progress: ScanProgress) -> None:
        """Report ``progress``; await the callback's coroutine if it returns one."""
        if self._own is not None:
            outcome = self._own(progress)
        elif self._seed is not None:
            outcome = self._seed(progress.done, progress.total)
        else:
            return
        if inspect.isawaitable(outcome):
            await outcome


def reporter(callback: AnyProgressCallback | ProgressReporter | None) -> ProgressReporter:
    """``callback`` as a ``ProgressReporter`` (one already made is passed on as it is)."""
    return callback if isinstance(callback, ProgressReporter) else ProgressReporter(callback)
