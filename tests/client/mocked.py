"""Shared pieces of the respx-mocked client tests: addresses and an exact comparison."""

from __future__ import annotations

import httpx
import pytest

from tests.clocked import FakeClock, clocked_response, delta, ndjson, sse

BASE = "http://127.0.0.1:9"
OPENAI_URL = BASE + "/v1/chat/completions"
OLLAMA_URL = BASE + "/api/chat"


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-9)


def sse_ok(clock: FakeClock) -> httpx.Response:
    """An OpenAI stream that answers ``ok``."""
    return clocked_response(clock, [(30, sse(delta(content="ok", finish="stop")) + sse(b"[DONE]"))])


def ndjson_ok(clock: FakeClock) -> httpx.Response:
    """An Ollama stream that answers ``ok``."""
    line = {"message": {"role": "assistant", "content": "ok"}, "done": True}
    return clocked_response(clock, [(30, ndjson(line))], content_type="application/x-ndjson")
