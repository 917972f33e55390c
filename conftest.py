"""Fixtures shared by our tests (pytester itself is enabled by ``-p pytester`` in pyproject)."""

from __future__ import annotations

import pytest

PYTESTER_INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture
def llm_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory whose inner runs use pytest-asyncio in auto mode."""
    pytester.makeini(PYTESTER_INI)
    return pytester
