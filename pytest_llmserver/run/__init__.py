"""The run as a whole: the recorder that collects every result and writes the run's files,
the merge of xdist workers and shards, and the terminal summary."""

from pytest_llmserver.run.merge import absorb, export
from pytest_llmserver.run.recorder import RunRecorder
from pytest_llmserver.run.terminal import display

__all__ = ["RunRecorder", "absorb", "display", "export"]
