"""``fetch_json``: a small JSON endpoint read within bounds, whatever it answers."""

from __future__ import annotations

import time

import httpx
import pytest

from pytest_llmserver.client import JsonReply, LLMStreamClosedError, LLMTimeoutError, fetch_json
from pytest_llmserver.client.limits import MAX_ENDPOINT_BYTES
from tests.hostile.server import HostileServer


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (None, None),
        ("very_deep_nesting", "JSON nested deeper than 64 levels"),
        ("html_page", "not JSON (Expecting value: line 1 column 1 (char 0))"),
        ("huge_line", f"a body larger than {MAX_ENDPOINT_BYTES} bytes"),
        ("gzip_bomb", f"a body larger than {MAX_ENDPOINT_BYTES} bytes"),
    ],
)
async def test_any_answer_is_a_reply_with_its_problem_named(
    fault: str | None, problem: str | None
) -> None:
    async with HostileServer(fault=fault) as server, httpx.AsyncClient(timeout=2.0) as http:
        reply = await fetch_json(http, server.url + "/v1/models")
    assert isinstance(reply, JsonReply)
    assert reply.status == 200
    assert reply.problem == problem
    assert (reply.value is None) == (problem is not None)
    assert len(reply.text) <= 300
    assert "\n" not in reply.text


async def test_no_answer_is_a_typed_error_within_the_time_limit() -> None:
    async with HostileServer(fault="slowloris_headers") as slow, httpx.AsyncClient() as http:
        started = time.perf_counter()
        with pytest.raises(LLMTimeoutError, match=r"did not answer within 0\.3 s") as info:
            await fetch_json(http, slow.url + "/v1/models", timeout_s=0.3)
        assert time.perf_counter() - started < 1.0
    assert info.value.phase == "total"
    async with HostileServer(fault="close_after_request") as gone, httpx.AsyncClient() as http:
        with pytest.raises(LLMStreamClosedError):
            await fetch_json(http, gone.url + "/v1/models")
