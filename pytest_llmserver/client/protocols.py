"""The chat protocols by server type."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pytest_llmserver.client._api import ChatApi
from pytest_llmserver.client.ollama import OLLAMA
from pytest_llmserver.client.openai import OPENAI

CHAT_APIS: Mapping[str, ChatApi] = MappingProxyType({"openai": OPENAI, "ollama": OLLAMA})
"""Each protocol under its server ``type``."""


def chat_api(api: str) -> ChatApi:
    """The protocol a server of type ``api`` speaks; any type but ``ollama`` speaks OpenAI."""
    return CHAT_APIS.get(api, OPENAI)
