"""The local server's default slots follow the machine's usable cores."""

from __future__ import annotations

import os

import pytest

from pytest_llmserver.local import LocalServerConfig
from pytest_llmserver.local.server import default_parallel


@pytest.mark.parametrize(("cores", "slots"), [(1, 1), (2, 1), (4, 2), (8, 4), (64, 4)])
def test_one_slot_per_two_cores(monkeypatch: pytest.MonkeyPatch, cores: int, slots: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert default_parallel() == slots
    assert LocalServerConfig().parallel == slots
    assert LocalServerConfig(parallel=3).parallel == 3
