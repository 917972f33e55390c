"""A simulated LLM server (OpenAI-compatible and Ollama native) on loopback, for tests."""

from __future__ import annotations

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
