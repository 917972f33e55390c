"""``--llm-server=local``: llama.cpp's own HTTP server (xllamacpp) with SmolLM2-135M."""

from pytest_llmserver.local.server import (
    MODEL_ALIAS,
    LocalServer,
    LocalServerConfig,
)

__all__ = [
    "MODEL_ALIAS",
    "LocalServer",
    "LocalServerConfig",
]
