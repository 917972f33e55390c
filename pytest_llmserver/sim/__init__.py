"""A simulated LLM server (OpenAI-compatible and Ollama native) on loopback, for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.sim.cli import main
    from pytest_llmserver.sim.config import Fault, SimConfig, TimingModel
    from pytest_llmserver.sim.policy import (
        DefaultPolicy,
        FunctionPolicy,
        Policy,
        ScriptedPolicy,
        SimReply,
        SimRequest,
        SimToolCall,
    )
    from pytest_llmserver.sim.process import SimProcess
    from pytest_llmserver.sim.server import SimServer
    from pytest_llmserver.sim.thread import SimThread
    from pytest_llmserver.sim.tokens import count_tokens, message_text, split_tokens

__all__ = [
    "DefaultPolicy",
    "Fault",
    "FunctionPolicy",
    "Policy",
    "ScriptedPolicy",
    "SimConfig",
    "SimProcess",
    "SimReply",
    "SimRequest",
    "SimServer",
    "SimThread",
    "SimToolCall",
    "TimingModel",
    "count_tokens",
    "main",
    "message_text",
    "split_tokens",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "cli": "main",
            "config": "Fault SimConfig TimingModel",
            "policy": (
                "DefaultPolicy FunctionPolicy Policy ScriptedPolicy SimReply SimRequest SimToolCall"
            ),
            "process": "SimProcess",
            "server": "SimServer",
            "thread": "SimThread",
            "tokens": "count_tokens message_text split_tokens",
        },
    )
