"""Bringing up the server under test: start the simulator or the local llama.cpp server,
probe a URL, or discover one; the simulator with the scripted bench models and judges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.servers.launch import (
        discovery_options,
        probe,
        run_discovery,
        serve,
        static_models,
    )
    from pytest_llmserver.servers.names import (
        DISTRACTED,
        FLAKY,
        JUDGE_FAIR,
        JUDGE_MODELS,
        NO_TOOLS,
        OBEDIENT,
        ORACLE,
        SIM_DEFAULT_MODEL,
    )

__all__ = [
    "DISTRACTED",
    "FLAKY",
    "JUDGE_FAIR",
    "JUDGE_MODELS",
    "NO_TOOLS",
    "OBEDIENT",
    "ORACLE",
    "SIM_DEFAULT_MODEL",
    "discovery_options",
    "probe",
    "run_discovery",
    "serve",
    "static_models",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "launch": "discovery_options probe run_discovery serve static_models",
            "names": (
                "DISTRACTED FLAKY JUDGE_FAIR JUDGE_MODELS NO_TOOLS OBEDIENT ORACLE "
                "SIM_DEFAULT_MODEL"
            ),
        },
    )
