"""The run as a whole: the recorder that collects every result and writes the run's files,
the merge of xdist workers and shards, and the terminal summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.run.merge import absorb, export
    from pytest_llmserver.run.recorder import RunRecorder
    from pytest_llmserver.run.terminal import display

__all__ = ["RunRecorder", "absorb", "display", "export"]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "merge": "absorb export",
            "recorder": "RunRecorder",
            "terminal": "display",
        },
    )
