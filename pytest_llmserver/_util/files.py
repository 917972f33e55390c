"""Writing files so that a reader never sees half of one, and no temporary file outlives its
writer for long."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from pathlib import Path

STALE_TEMP_S = 600.0
"""A temporary file of a target this old was left by a killed writer: one writing the same
target right now (in another process) made its file seconds ago."""

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new temporary file next to ``path``, open for writing (mode 0600, as ``tempfile``
    makes them)."""
    while True:
        temp = path.parent / f".{path.name}-{secrets.token_hex(4)}.tmp"
        with contextlib.suppress(FileExistsError):
            return os.open(temp, _CREATE, 0o600), temp


def _temp_pattern(target: str) -> re.Pattern[str]:
    """Temporary names of ``target`` only: the 8 characters after the dash hold no dash, so no
    other target's temporary file matches (older versions named them with ``tempfile``, whose
    8 characters are letters, digits and ``_``)."""
    return re.compile(rf"\.{re.escape(target)}-[a-z0-9_]{{8}}\.tmp")


def _remove_stale_temps(path: Path, now_s: float) -> None:
    """Remove the temporary files of ``path`` last modified ``STALE_TEMP_S`` or more ago."""
    pattern = _temp_pattern(path.name)
    with contextlib.suppress(OSError), os.scandir(path.parent) as entries:
        for entry in entries:
            if not pattern.fullmatch(entry.name):
                continue
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and now_s - info.st_mtime >= STALE_TEMP_S:
                    os.unlink(entry.path)


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic
    rename; the folder is made when missing. The temporary file is removed on any exception,
    and stale ones a killed writer left for ``path`` (``.<name>-*.tmp``) are removed first.
    Returns ``path``."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path, time.time())
    handle, temp = _create_temp(path)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return path
