"""The README's CI job: its ``LLM check`` step, taken from the README as written, runs in bash
(as GitHub Actions runs it, with ``-e``) from a folder of its own against the simulator, twice:
the first run saves the baseline, the second compares with it; each leaves a real folder of
files (not a link) with ``summary.md`` for the artifact upload."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

README = Path(__file__).resolve().parents[1] / "README.md"


def ci_job() -> dict[str, Any]:
    """The GitHub Actions workflow shown in the README."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    [workflow] = [yaml.safe_load(b) for b in blocks if b.startswith("name: llm-check")]
    job: dict[str, Any] = workflow["jobs"]["llm"]
    return job


def run_step(job: dict[str, Any], name: str, cwd: Path, env: dict[str, str]) -> int:
    [step] = [s for s in job["steps"] if s.get("name") == name]
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "cp: " not in done.stderr, done.stderr
    return done.returncode


def test_the_ci_step_leaves_the_run_and_compares_with_the_baseline_it_saved(
    tmp_path: Path,
) -> None:
    job = ci_job()
    assert set(job["env"]) == {"LLM_URL", "LLM_MODEL", "LLM_SELECT"}
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "LLM_URL": "sim",
        "LLM_MODEL": "oracle",
        "LLM_SELECT": "(toolbench and quick) or throughput",
        "LLM_SWEEP": "2",
        "LLM_TOTAL": "8",
    }
    env.pop("PYTEST_ADDOPTS", None)
    assert run_step(job, "LLM check", tmp_path, env) == 0
    saved = list((tmp_path / "llm-baselines").glob("*.json"))
    assert len(saved) == 1
    run = tmp_path / "ci-artifacts" / "llm-run"
    assert run.is_dir()
    assert not run.is_symlink()
    assert (run / "summary.md").is_file()
    assert (run / "results.json").is_file()
    assert (tmp_path / "ci-artifacts" / "junit.xml").is_file()

    (tmp_path / "ci-artifacts").rename(tmp_path / "first-run")
    assert run_step(job, "LLM check", tmp_path, env) == 0
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert saved[0].name in summary  # compared with the baseline the first run saved
    assert len(list(run.iterdir())) > 3
