"""The protocol objects: one request encoded by each, the choice by server type, options."""

from __future__ import annotations

import pytest

from pytest_llmserver.client import (
    CHAT_APIS,
    OLLAMA,
    OPENAI,
    ChatRequest,
    ModelClient,
    ServerRecord,
    ToolCall,
    chat_api,
)


def test_server_type_picks_the_protocol_and_any_other_type_speaks_openai() -> None:
    assert chat_api("ollama") is OLLAMA
    assert chat_api("openai") is OPENAI
    assert chat_api("llamacpp") is OPENAI
    assert {name: api.name for name, api in CHAT_APIS.items()} == {
        "openai": "openai",
        "ollama": "ollama",
    }
    server = ServerRecord(url="http://127.0.0.1:8080/v1")
    assert OPENAI.chat_url(server) == "http://127.0.0.1:8080/v1/chat/completions"
    assert OLLAMA.chat_url(server) == "http://127.0.0.1:8080/api/chat"


def test_one_request_encoded_by_each_protocol() -> None:
    request = ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "q"}],
        max_tokens=8,
        temperature=0.0,
        tools=[{"type": "function"}],
        tool_choice="auto",
        enable_thinking=False,
        extra={"seed": 1},
    )
    assert OPENAI.body(request) == {
        "model": "m",
        "messages": [{"role": "user", "content": "q"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 8,
        "temperature": 0.0,
        "tools": [{"type": "function"}],
        "tool_choice": "auto",
        "chat_template_kwargs": {"enable_thinking": False},
        "seed": 1,
    }
    assert OLLAMA.body(request) == {
        "model": "m",
        "messages": [{"role": "user", "content": "q"}],
        "stream": True,
        "options": {"num_predict": 8, "temperature": 0.0},
        "tools": [{"type": "function"}],
        "think": False,
        "seed": 1,
    }
    whole = ChatRequest(model="m", messages=[], stream=False)
    assert "stream_options" not in OPENAI.body(whole)
    assert OLLAMA.body(whole) == {"model": "m", "messages": [], "stream": False}


def test_history_messages_of_each_protocol() -> None:
    call = ToolCall(0, "call_7", "f", {"x": 1}, '{"x": 1}')
    assert OPENAI.assistant_message("", [call])["tool_calls"] == [
        {"id": "call_7", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    ]
    assert OLLAMA.assistant_message("", [call])["tool_calls"] == [
        {"function": {"name": "f", "arguments": {"x": 1}}}
    ]
    assert OPENAI.assistant_message("hi", []) == {"role": "assistant", "content": "hi"}
    assert OPENAI.tool_result_message(call, "2")["tool_call_id"] == "call_7"
    assert OLLAMA.tool_result_message(call, "2")["tool_name"] == "f"


async def test_an_unknown_option_is_a_type_error() -> None:
    async with ModelClient({"url": "http://127.0.0.1:9"}, "m") as client:
        with pytest.raises(TypeError, match="unexpected keyword argument 'temprature'"):
            await client.complete([], temprature=0.5)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="unexpected keyword argument 'tools'"):
            await client.chat("q", tools=[])  # type: ignore[call-arg]
