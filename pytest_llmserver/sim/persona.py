"""Personas: the simulator dressed as a given server product, for fingerprinting tests.

Each persona keeps the chat routes its product has and adds the product's identifying
read-only routes with bodies of the documented shape. Values are made up; only the
field names and shapes follow the products.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

Persona = Literal["sim", "ollama", "openai", "vllm", "llamacpp", "lmstudio", "sglang"]
PERSONAS: tuple[Persona, ...] = typing.get_args(Persona)

# ``owned_by`` of each ``/v1/models`` entry, as each product fills it.
OWNERS: dict[Persona, str] = {
    "sim": "pytest-llmserver-sim",
    "ollama": "library",
    "openai": "system",
    "vllm": "vllm",
    "llamacpp": "llamacpp",
    "lmstudio": "organization_owner",
    "sglang": "sglang",
}
CONTEXT_LENGTH = 8192


def speaks_ollama(persona: Persona) -> bool:
    """Whether the persona serves Ollama's native ``/api/*`` routes."""
    return persona in ("sim", "ollama")


def model_extra(persona: Persona) -> dict[str, Any]:
    """Fields the persona adds to each ``/v1/models`` entry."""
    if persona == "vllm":
        return {"max_model_len": CONTEXT_LENGTH}
    if persona == "llamacpp":
        return {"meta": {"n_ctx": CONTEXT_LENGTH, "size": 96_000_000, "ftype": "Q4_0"}}
    return {}


def extra_routes(persona: Persona, models: tuple[str, ...], slots: int = 4) -> dict[str, Any]:
    """Identifying ``GET`` routes of the persona, each with its fixed JSON body (llama.cpp's
    report ``slots`` parallel slots)."""
    first = models[0]
    if persona == "vllm":
        return {"/version": {"version": "0.0.0-sim"}}
    if persona == "llamacpp":
        return {
            "/health": {"status": "ok"},
            "/props": {
                "default_generation_settings": {"n_ctx": CONTEXT_LENGTH, "params": {}},
                "total_slots": slots,
                "model_path": f"/models/{first}.gguf",
                "build_info": "sim",
            },
            "/slots": [
                {"id": index, "n_ctx": CONTEXT_LENGTH, "is_processing": False}
                for index in range(slots)
            ],
        }
    if persona == "lmstudio":
        listing = [
            {
                "id": m,
                "object": "model",
                "type": "llm",
                "publisher": "sim",
                "arch": "sim",
                "compatibility_type": "gguf",
                "quantization": "Q4_0",
                "state": "loaded",
                "max_context_length": CONTEXT_LENGTH,
            }
            for m in models
        ]
        return {"/api/v0/models": {"object": "list", "data": listing}}
    if persona == "sglang":
        return {"/get_model_info": {"model_path": first, "is_generation": True}}
    return {}
