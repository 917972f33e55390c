"""The discovery cache: servers found earlier, in a versioned JSON file written atomically."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_llmserver._util import atomic_write
from pytest_llmserver.client import ServerRecord

CACHE_VERSION = 1
CACHE_TTL_S = 24 * 3600.0
_FORMAT = "pytest-llmserver/servers"


class CacheWarning(UserWarning):
    """The cache file could not be used; discovery goes on without it."""


def user_cache_dir() -> Path:
    """The platform's per-user cache directory for this tool."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pytest-llmserver"


def default_cache_file() -> Path:
    """Where the cache lives unless told otherwise (read from the environment when called)."""
    return user_cache_dir() / "servers.json"


CACHE_FILE = default_cache_file()
"""The default cache file as the environment named it when this module was imported."""


def save_cache(
    servers: Iterable[ServerRecord | Mapping[str, Any]], path: Path | None = None
) -> Path:
    """Write ``servers`` (records, or the seed's dicts) stamped with the time now to ``path``
    (default: ``default_cache_file()``), atomically."""
    path = default_cache_file() if path is None else path
    now = time.time()
    entries = []
    for server in servers:
        entry = ServerRecord.coerce(server).to_dict()
        entry["checked_at"] = now
        entries.append(entry)
    document = {"format": _FORMAT, "version": CACHE_VERSION, "saved_at": now, "servers": entries}
    return atomic_write(path, json.dumps(document, indent=1))


def load_cache(path: Path | None = None, *, max_age_s: float = CACHE_TTL_S) -> list[ServerRecord]:
    """Servers in the cache at ``path`` (default: ``default_cache_file()``) younger than
    ``max_age_s``; a missing file gives ``[]``, and a corrupt, foreign or other-version file
    gives ``[]`` with a ``CacheWarning``."""
    path = default_cache_file() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        warnings.warn(CacheWarning(f"discovery cache {path} unreadable: {exc}"), stacklevel=2)
        return []
    try:
        document = json.loads(text)
    except ValueError as exc:
        warnings.warn(
            CacheWarning(f"discovery cache {path} is not JSON ({exc}); ignored"), stacklevel=2
        )
        return []
    problem = _document_problem(document)
    if problem:
        warnings.warn(CacheWarning(f"discovery cache {path} {problem}; ignored"), stacklevel=2)
        return []
    now = time.time()
    servers: list[ServerRecord] = []
    for entry in document["servers"]:
        checked_at = entry.get("checked_at") if isinstance(entry, dict) else None
        if not isinstance(checked_at, (int, float)) or not 0 <= now - checked_at <= max_age_s:
            continue
        try:
            servers.append(ServerRecord.coerce(entry))
        except (TypeError, ValueError):
            continue  # one bad entry does not spoil the rest
    return servers


def _document_problem(document: Any) -> str | None:
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        return "is not a pytest-llmserver server cache"
    if document.get("version") != CACHE_VERSION:
        return f"has version {document.get('version')!r}, this version reads {CACHE_VERSION}"
    if not isinstance(document.get("servers"), list):
        return "has no server list"
    return None
