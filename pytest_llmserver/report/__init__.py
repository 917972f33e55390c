"""Reports under ``logs/``: one directory per run."""

from pytest_llmserver.report.rundir import make_run_dir

__all__ = ["make_run_dir"]
