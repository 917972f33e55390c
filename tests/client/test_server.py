"""``ServerRecord`` reads as the seed's server dict; ``coerce`` takes a seed dict back."""

from __future__ import annotations

import json

import pytest

from pytest_llmserver.client import ModelInfo, ServerRecord, TargetError, select_model


def _record() -> ServerRecord:
    return ServerRecord(
        url="http://127.0.0.1:11434/",
        type="ollama",
        kind="ollama",
        models=["sim-small", "sim-reasoner"],
        status="ok",
        response_time_ms=12.5,
        model_info=[ModelInfo("sim-small", context_length=8192)],
    )


def test_record_reads_as_the_seed_server_dict() -> None:
    server = _record()
    assert server["url"] == "http://127.0.0.1:11434"
    assert (server["ip"], server["port"]) == ("127.0.0.1", 11434)
    assert server["type"] == "ollama"
    assert server["models"] == ["sim-small", "sim-reasoner"]
    assert server["response_time"] == server.get("response_time") == 12.5  # milliseconds
    assert "response_time" in server
    assert server.get("no_such_key") is None
    assert "no_such_key" not in server
    with pytest.raises(KeyError, match="no_such_key"):
        server["no_such_key"]


def test_dict_of_a_record_is_plain_json() -> None:
    as_dict = dict(_record())
    assert len(_record()) == len(as_dict)
    assert as_dict["response_time"] == as_dict["response_time_ms"] == 12.5
    assert as_dict["model_info"] == [
        {
            "name": "sim-small",
            "size_bytes": None,
            "digest": None,
            "context_length": 8192,
            "parameter_size": None,
            "quantization": None,
        }
    ]
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert ServerRecord.coerce(as_dict) == _record()


def test_coerce_takes_a_seed_dict_with_response_time_in_ms() -> None:
    seed = {
        "ip": "127.0.0.1",
        "port": 8080,
        "url": "http://127.0.0.1:8080",
        "type": "openai",
        "models": ["m"],
        "response_time": 3.25,
        "seen_by": "an older tool",  # a key the record does not know is dropped
    }
    server = ServerRecord.coerce(seed)
    assert (server.url, server.type, server.models) == ("http://127.0.0.1:8080", "openai", ["m"])
    assert server.response_time_ms == 3.25
    assert server.get("response_time") == 3.25
    assert "seen_by" not in server
    assert ServerRecord.coerce(server) is server


def test_coerce_fills_address_from_the_url_and_needs_a_url() -> None:
    server = ServerRecord.coerce({"url": "http://127.0.0.5:1234/v1", "type": "openai"})
    assert (server.ip, server.port, server.root, server.openai_base) == (
        "127.0.0.5",
        1234,
        "http://127.0.0.5:1234",
        "http://127.0.0.5:1234/v1",
    )
    info = ServerRecord.coerce({"url": "http://127.0.0.5:1", "model_info": [{"name": "a"}]})
    assert info.info("a") == ModelInfo("a")
    with pytest.raises(TypeError, match="needs a 'url'"):
        ServerRecord.coerce({"type": "openai"})


def test_select_model_by_name_prefix_or_first() -> None:
    server = _record()
    assert select_model(server, None) == "sim-small"
    assert select_model(server, "sim-r") == "sim-reasoner"
    with pytest.raises(TargetError, match="matches several models"):
        select_model(server, "sim")
    with pytest.raises(TargetError, match="not served"):
        select_model(server, "other")
