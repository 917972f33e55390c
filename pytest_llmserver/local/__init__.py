"""``--llm-server=local``: llama.cpp's own HTTP server (xllamacpp) with SmolLM2-135M."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
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

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "server": "MODEL_ALIAS LocalServer LocalServerConfig",
        },
    )
