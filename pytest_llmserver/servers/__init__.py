"""Bringing up the server under test: start the simulator or the local llama.cpp server,
probe a URL, or discover one; the simulator with the scripted bench models and judges."""

from pytest_llmserver.servers.launch import (
    discovery_options,
    probe,
    run_discovery,
    serve,
    static_models,
)
from pytest_llmserver.servers.names import (
    DISTRACTED,
    JUDGE_FAIR,
    JUDGE_MODELS,
    NO_TOOLS,
    OBEDIENT,
    ORACLE,
)

__all__ = [
    "DISTRACTED",
    "JUDGE_FAIR",
    "JUDGE_MODELS",
    "NO_TOOLS",
    "OBEDIENT",
    "ORACLE",
    "discovery_options",
    "probe",
    "run_discovery",
    "serve",
    "static_models",
]
