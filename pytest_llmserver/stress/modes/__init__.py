"""The stress modes: ``StressTester`` (in ``tester``) over a shared base, one module per mode."""

from __future__ import annotations

from pytest_llmserver.stress.modes.tester import StressTester

__all__ = ["StressTester"]
