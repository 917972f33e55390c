"""The run directory ``logs/<timestamp>-<short id>/`` and the ``logs/latest`` link to it."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path


def make_run_dir(logs_dir: Path) -> Path:
    """Create a fresh run directory under ``logs_dir`` and point ``logs_dir/latest`` at it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = logs_dir / f"{stamp}-{secrets.token_hex(3)}"
    run_dir.mkdir(parents=True)
    latest = logs_dir / "latest"
    tmp = logs_dir / f".latest-{os.getpid()}"
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_dir.name)
        tmp.replace(latest)
    return run_dir
