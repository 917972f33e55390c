"""File names for saved transcripts: a caller's name made safe and numbered when taken, or a
time stamp with a random part; a name is claimed atomically so two processes never share it."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pytest_llmserver._util import slug


def claim(temp: str, path: Path) -> bool:
    """Move ``temp`` to ``path`` unless a file is there (atomic where hard links work, so two
    processes never take the same name); False when taken."""
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError:  # no hard links here: check, then move
        if os.path.lexists(path):
            return False
        os.replace(temp, path)
        return True
    os.unlink(temp)
    return True


def named(wanted: str, suffix: str) -> Iterator[str]:
    """``wanted`` as a safe file name, then with ``-2``, ``-3``, ... added."""
    stem = slug(wanted, sep="-", max_len=120, default="transcript")
    yield f"{stem}{suffix}"
    for number in itertools.count(2):
        yield f"{stem}-{number}{suffix}"


def stamped(now: datetime, model: str, suffix: str, max_len: int) -> Iterator[str]:
    """Time-stamped names with a random part, for a transcript not named by its caller."""
    stamp = now.strftime("%Y%m%d-%H%M%S-%f")
    label = slug(model, max_len=max_len, default="model")
    while True:
        yield f"{stamp}-{secrets.token_hex(3)}-{label}{suffix}"
