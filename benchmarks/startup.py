"""Start-up cost of the package and of the plugin's registration, against bare pytest.

Every figure comes from a fresh interpreter (wall time of the whole child process), several runs
each in turn, min and median printed:

- ``python -c "import pytest_llmserver"`` against ``python -c "pass"``;
- the 15 modules with the largest cumulative time under ``python -X importtime`` of
  ``import pytest_llmserver.plugin`` (what pytest loads), and which heavy modules it pulls in;
- ``pytest --co -q`` in an empty directory: with the plugin from its installed entry point
  against ``-p no:pytest_llmserver``, and with autoloading off (``-p asyncio``, which the plugin's
  fixtures need, against ``-p asyncio -p pytest_llmserver``);
- ``pytest --co -q`` of a directory with one trivial test using the ``llm`` marker and the
  ``llm_settings`` fixture, with and without the plugin.

Bytecode is cached as an installed package has it (in a temporary ``PYTHONPYCACHEPREFIX``,
warmed by one untimed run of each case, so the tree gets no ``__pycache__``); ``--source``
measures with the environment as it is (with ``PYTHONDONTWRITEBYTECODE`` every module of the
tree is compiled on every start).

Target: the plugin costs <= 0.15 s over bare pytest. Nothing here touches the network.
Run: ``python benchmarks/startup.py [--runs 7] [--source]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TARGET_S = 0.15
HEAVY = ("numpy", "matplotlib", "httpx", "httpcore", "yaml", "pytest_llmserver.sim")
TRIVIAL_TEST = '''import pytest


@pytest.mark.llm
def test_trivial(llm_settings: object) -> None:
    """Uses the plugin's marker and fixture; only collected here."""
'''


@dataclass
class Case:
    """One command timed in fresh processes."""

    label: str
    argv: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    times_s: list[float] = field(default_factory=list)

    def run_once(self) -> None:
        started_ns = time.perf_counter_ns()
        done = subprocess.run(
            self.argv, cwd=self.cwd, env=dict(self.env), capture_output=True, text=True
        )
        self.times_s.append((time.perf_counter_ns() - started_ns) / 1e9)
        if done.returncode not in (0, 5):  # 5: pytest collected no tests
            raise SystemExit(f"{self.label}: exit {done.returncode}: {done.stderr.strip()}")

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def child_env(pycache: Path | None) -> dict[str, str]:
    """The children's environment: bytecode cached under ``pycache`` unless it is None."""
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def import_profile(top: int, env: Mapping[str, str], cwd: Path) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, module) of the ``top`` slowest imports of the plugin."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest_llmserver.plugin"],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative), int(own), name.strip()))
    return sorted(rows, reverse=True)[:top]


def heavy_loaded(env: Mapping[str, str], cwd: Path) -> list[str]:
    """Which heavy modules ``import pytest_llmserver.plugin`` loads."""
    code = (
        "import sys, pytest_llmserver.plugin\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def print_profile(top: int, env: Mapping[str, str], cwd: Path) -> None:
    print(f"\nslowest imports of import pytest_llmserver.plugin (-X importtime, top {top}):")
    print(f"  {'cumulative':>10} {'self':>8}  module")
    for cumulative_us, own_us, name in import_profile(top, env, cwd):
        print(f"  {cumulative_us / 1000:8.1f}ms {own_us / 1000:6.1f}ms  {name}")
    print(f"heavy modules it loads: {' '.join(heavy_loaded(env, cwd)) or 'none'}")


def make_cases(empty: Path, trivial: Path, env: Mapping[str, str]) -> dict[str, Case]:
    python = sys.executable
    explicit = {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    collect = [python, "-m", "pytest", "--co", "-q"]
    cases = [
        Case("python -c pass", [python, "-c", "pass"], empty, env),
        Case("import pytest_llmserver", [python, "-c", "import pytest_llmserver"], empty, env),
        Case(
            "empty, bare (-p no:pytest_llmserver)",
            [*collect, "-p", "no:pytest_llmserver"],
            empty,
            env,
        ),
        Case("empty, plugin (entry point)", collect, empty, env),
        Case("empty, no autoload, bare (-p asyncio)", [*collect, "-p", "asyncio"], empty, explicit),
        Case(
            "empty, no autoload, -p pytest_llmserver",
            [*collect, "-p", "asyncio", "-p", "pytest_llmserver"],
            empty,
            explicit,
        ),
        Case("one test, bare", [*collect, "-p", "no:pytest_llmserver"], trivial, env),
        Case("one test, plugin", collect, trivial, env),
    ]
    return {case.label: case for case in cases}


def print_overhead(label: str, bare: Case, plugin: Case) -> float:
    median_s = plugin.median_s - bare.median_s
    min_s = plugin.min_s - bare.min_s
    verdict = "met" if median_s <= TARGET_S else "NOT met"
    print(
        f"  {label:<38} {min_s * 1000:+8.0f} ms min {median_s * 1000:+8.0f} ms median"
        f"  (target <= {TARGET_S * 1000:.0f} ms: {verdict})"
    )
    return median_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per case")
    parser.add_argument("--top", type=int, default=15, help="slowest imports listed")
    parser.add_argument(
        "--source", action="store_true", help="no bytecode cache: the environment as it is"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-startup-") as tmp:
        empty, trivial = Path(tmp, "empty"), Path(tmp, "trivial")
        empty.mkdir()
        trivial.mkdir()
        (trivial / "test_trivial.py").write_text(TRIVIAL_TEST, encoding="utf-8")
        env = child_env(None if args.source else Path(tmp, "pycache"))
        cases = make_cases(empty, trivial, env)
        bytecode = "as found (--source)" if args.source else "cached, warmed by one untimed run"
        print(f"python {sys.version.split()[0]}; bytecode {bytecode}; before: {load_text()}")
        for case in cases.values():
            case.run_once()
            case.times_s.clear()

        print_profile(args.top, env, empty)

        for _ in range(args.runs):
            for case in cases.values():  # in turn, so drift in load hits every case alike
                case.run_once()

    print(f"\nwall time of a fresh process ({args.runs} runs each):")
    print(f"  {'case':<42} {'min':>8} {'median':>8}")
    for case in cases.values():
        print(f"  {case.label:<42} {case.min_s:7.3f}s {case.median_s:7.3f}s")
    print("\noverhead of pytest-llmserver:")
    c = cases
    print_overhead("import pytest_llmserver", c["python -c pass"], c["import pytest_llmserver"])
    worst = max(
        print_overhead(
            "pytest --co, empty dir (entry point)",
            c["empty, bare (-p no:pytest_llmserver)"],
            c["empty, plugin (entry point)"],
        ),
        print_overhead(
            "pytest --co, empty dir (no autoload)",
            c["empty, no autoload, bare (-p asyncio)"],
            c["empty, no autoload, -p pytest_llmserver"],
        ),
        print_overhead("pytest --co, one trivial test", c["one test, bare"], c["one test, plugin"]),
    )
    verdict = "met" if worst <= TARGET_S else "NOT met"
    print(
        f"worst median overhead {worst * 1000:.0f} ms; target <= {TARGET_S * 1000:.0f} ms {verdict}"
    )
    print(f"after: {load_text()}")


if __name__ == "__main__":
    main()
