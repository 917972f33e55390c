"""The simulator's listings (models, tags, show) and its answers to unknown paths, bad JSON
and unknown models."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.sim.helpers import chat_body


@pytest.mark.asyncio
async def test_openai_models_listing(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["sim-small", "sim-reasoner"]
    for entry in body["data"]:
        assert entry["object"] == "model"
        assert entry["owned_by"] == "pytest-llmserver-sim"
        assert isinstance(entry["created"], int)


@pytest.mark.asyncio
async def test_ollama_version_tags_and_show(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/version")).json() == {"version": "0.12.0-sim"}
    tags = (await client.get("/api/tags")).json()["models"]
    assert [t["name"] for t in tags] == ["sim-small", "sim-reasoner"]
    again = (await client.get("/api/tags")).json()["models"]
    for entry, repeat in zip(tags, again, strict=True):
        assert entry["model"] == entry["name"]
        assert re.fullmatch(r"[0-9a-f]{64}", entry["digest"])
        assert entry["digest"] == repeat["digest"]
        assert isinstance(entry["size"], int)
        assert entry["size"] > 0
        assert entry["details"]["format"] == "gguf"
        assert entry["details"]["quantization_level"] == "Q4_1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", entry["modified_at"])
    assert tags[0]["digest"] != tags[1]["digest"]

    small = (await client.post("/api/show", json={"model": "sim-small"})).json()
    assert small["capabilities"] == ["completion", "tools"]
    assert {"modelfile", "parameters", "template", "details", "model_info"} <= small.keys()
    reasoner = (await client.post("/api/show", json={"model": "sim-reasoner"})).json()
    assert "thinking" in reasoner["capabilities"]
    missing = await client.post("/api/show", json={"model": "nope"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'nope' not found"}


@pytest.mark.asyncio
async def test_unknown_path_bad_json_and_unknown_model(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/v2/whatever")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/json"
    assert "error" in unknown.json()

    bad = await client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert "not valid JSON" in bad.json()["error"]["message"]
    bad_ollama = await client.post("/api/chat", content=b"[1,")
    assert bad_ollama.status_code == 400
    assert isinstance(bad_ollama.json()["error"], str)

    missing = await client.post("/v1/chat/completions", json=chat_body("gpt-nothing"))
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "message": "The model 'gpt-nothing' does not exist",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    missing_ollama = await client.post("/api/chat", json=chat_body("gpt-nothing"))
    assert missing_ollama.status_code == 404
    assert missing_ollama.json() == {"error": "model 'gpt-nothing' not found"}
