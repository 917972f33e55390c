"""The simulator's command line in a child process: its own interpreter, so its timing does not
share a GIL with the client being measured."""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType

from pytest_llmserver._util import stop_process


class SimProcess:
    """``with SimProcess("--ttft-ms=200") as url:`` runs ``python -m pytest_llmserver.sim``
    on a free loopback port and stops it (terminate, then kill) on exit."""

    def __init__(self, *cli_args: str) -> None:
        self._args = cli_args
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> str:
        cmd = [sys.executable, "-m", "pytest_llmserver.sim", "--port=0", *self._args]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"the simulator did not start (it printed {line!r})")
        self.url = line.rsplit(" ", 1)[-1].strip()
        return self.url

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the child, killing it after 10 s."""
        proc, self._proc = self._proc, None
        stop_process(proc)
