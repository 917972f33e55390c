"""Bring up the server a ``Settings`` names: start ``sim`` / ``local``, or probe a URL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_llmserver.settings import Settings
from pytest_llmserver.sim import SimConfig, SimThread
from pytest_llmserver.target import ServerRecord, TargetError, probe_server


@contextmanager
def serve(settings: Settings) -> Iterator[ServerRecord]:
    """Yield the record of a ready server; stop what was started here on exit."""
    spec = settings.server
    if spec is None:
        raise TargetError("no server given: pass --llm-server=URL|HOST:PORT|sim|local")
    if spec.mode == "sim":
        with SimThread(bench_sim_config()) as sim:
            yield _probe(sim.url, settings)
    elif spec.mode == "local":
        from pytest_llmserver.local import LocalServer, LocalServerConfig

        if settings.api == "ollama":
            raise TargetError("--llm-server=local speaks the OpenAI API; drop --llm-api=ollama")
        config = LocalServerConfig(log_path=settings.logs_dir / "local-server.log")
        with LocalServer(config) as started:
            record = _probe(started.url, settings)
            record.response_time_ms = started.response_time_ms
            yield record
    elif spec.mode == "url" and spec.url:
        yield _probe(spec.url, settings)
    else:
        raise TargetError(
            f"--llm-server={spec.mode}: network discovery is not available in this version; "
            "pass a URL, HOST:PORT, sim or local"
        )


def bench_sim_config() -> SimConfig:
    """The simulator with the tool bench's scripted models (``oracle``, ``bad-*``) added."""
    from pytest_llmserver.toolbench import builtin_tasks
    from pytest_llmserver.toolbench.oracle import BENCH_MODELS, BenchPolicy, distractor_names

    base = SimConfig()
    policy = BenchPolicy(builtin_tasks(), distractors=distractor_names())
    return SimConfig(models=(*base.models, *BENCH_MODELS), policy=policy)


def _probe(url: str, settings: Settings) -> ServerRecord:
    return asyncio.run(
        probe_server(
            url,
            api=settings.api,
            api_key=settings.api_key,
            timeout_s=min(settings.timeout_s, 30.0),
        )
    )
