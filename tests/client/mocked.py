"""Shared pieces of the respx-mocked client tests: addresses and an exact comparison."""

from __future__ import annotations

import pytest

BASE = "http://127.0.0.1:9"
OPENAI_URL = BASE + "/v1/chat/completions"
OLLAMA_URL = BASE + "/api/chat"


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-9)
