"""Fixtures shared by our tests (pytester itself is enabled by ``-p pytester`` in pyproject)."""

from __future__ import annotations

import os
import tempfile

import numpy  # noqa: F401  (loaded once here: pytester's inline runs drop what they import,
import pytest  # and a C extension such as numpy cannot be loaded twice in one process)

PYTESTER_INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


def pytest_configure(config: pytest.Config) -> None:
    """Keep discovery in our own runs (and their child pytest runs) on loopback, and its
    cache out of the user's home."""
    os.environ["LLM_SCAN_LOOPBACK_ONLY"] = "1"
    os.environ.setdefault("LLM_CACHE_DIR", tempfile.mkdtemp(prefix="llmserver-cache-"))


@pytest.fixture
def llm_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory whose inner runs use pytest-asyncio in auto mode."""
    pytester.makeini(PYTESTER_INI)
    return pytester
