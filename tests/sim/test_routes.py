"""Routing, header overrides and error bodies of the simulator, without a connection."""

from __future__ import annotations

import httpx
import pytest

from pytest_llmserver.sim import Fault, SimConfig
from pytest_llmserver.sim.errors import ApiError, api_of
from pytest_llmserver.sim.overrides import Overrides, parse_overrides
from pytest_llmserver.sim.routes import Routes


def test_routes_by_persona_and_method() -> None:
    sim = Routes(SimConfig())
    assert sim.handler("POST", "/api/chat") is not None
    with pytest.raises(ApiError) as wrong_method:
        sim.handler("GET", "/v1/chat/completions")
    assert wrong_method.value.status == 405
    with pytest.raises(ApiError) as unknown:
        sim.handler("GET", "/health")
    assert (unknown.value.status, unknown.value.error_type) == (404, "not_found_error")
    llamacpp = Routes(SimConfig(persona="llamacpp"))
    assert llamacpp.handler("GET", "/health") is not None
    with pytest.raises(ApiError):
        llamacpp.handler("POST", "/api/chat")  # no Ollama routes on a llama.cpp server


def test_parse_overrides() -> None:
    assert parse_overrides({}) == Overrides()
    headers = {
        "x-sim-ttft-ms": "250",
        "x-sim-token-ms": "0",
        "x-sim-fault": " STALL ",
        "x-sim-answer-tokens": "7",
        "x-sim-fault-after-tokens": "0",
        "x-sim-stall-ms": "1500",
    }
    assert parse_overrides(headers) == Overrides(0.25, 0.0, Fault.STALL, 7, 0, 1.5)
    for name, value in [("x-sim-stall-ms", "inf"), ("x-sim-fault-after-tokens", "-1")]:
        with pytest.raises(ApiError, match=name):
            parse_overrides({name: value})


def test_error_body_in_the_style_of_each_api() -> None:
    error = ApiError(404, "gone", param="model", code="model_not_found")
    assert error.body("ollama") == {"error": "gone"}
    assert error.body("openai") == {
        "error": {
            "message": "gone",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert (api_of("/api/tags"), api_of("/v1/models"), api_of("/apis")) == (
        "ollama",
        "openai",
        "openai",
    )


async def test_wrong_method_is_405_on_the_wire(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/chat/completions")
    assert response.status_code == 405
    assert "not allowed" in response.json()["error"]["message"]
