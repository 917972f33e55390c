"""Bring up the server a ``Settings`` names: start ``sim`` / ``local``, probe a URL, or
discover one (``auto``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from pytest_llmserver.discovery import (
    CACHE_FILE,
    COMMON_PORTS,
    Discovery,
    DiscoveryOptions,
    discover,
    parse_subnet,
    probe_url,
)
from pytest_llmserver.discovery.scan import ProgressCallback
from pytest_llmserver.settings import Settings
from pytest_llmserver.sim import SimConfig, SimThread
from pytest_llmserver.target import ServerRecord, TargetError


@contextmanager
def serve(settings: Settings, found: ServerRecord | None = None) -> Iterator[ServerRecord]:
    """Yield the record of a ready server; stop what was started here on exit.

    ``found`` is a record resolved before the session (the ``auto`` choice, or a URL probed
    early for ``--llm-model=all``); it is used as it is.
    """
    spec = settings.server
    if spec is None:
        raise TargetError("no server given: pass --llm-server=auto|URL|HOST:PORT|sim|local")
    if found is not None:
        yield found
    elif spec.mode == "sim":
        with SimThread(bench_sim_config(settings.sim_slowdown)) as sim:
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
        raise TargetError("--llm-server=auto found no server (see the discovery note above)")


def bench_sim_config(slowdown: float = 1.0) -> SimConfig:
    """The simulator with the tool bench's scripted models (``oracle``, ``bad-*``) and the
    arena's scripted judges (``judge-*``) added;
    ``slowdown`` multiplies its TTFT and token gap (1.3 = 30% slower)."""
    from pytest_llmserver.arena import JUDGE_MODELS, ArenaJudgePolicy
    from pytest_llmserver.toolbench import builtin_tasks
    from pytest_llmserver.toolbench.oracle import BENCH_MODELS, BenchPolicy, distractor_names

    base = SimConfig()
    timing = replace(
        base.timing,
        ttft_s=base.timing.ttft_s * slowdown,
        per_token_s=base.timing.per_token_s * slowdown,
    )
    policy = ArenaJudgePolicy(BenchPolicy(builtin_tasks(), distractors=distractor_names()))
    models = (*base.models, *BENCH_MODELS, *JUDGE_MODELS)
    return SimConfig(models=models, policy=policy, timing=timing)


def static_models(settings: Settings) -> list[str] | None:
    """Models of a ``sim`` or ``local`` server, known without starting it; else ``None``."""
    spec = settings.server
    if spec is not None and spec.mode == "sim":
        return list(bench_sim_config().models)
    if spec is not None and spec.mode == "local":
        from pytest_llmserver.local.server import MODEL_ALIAS

        return [MODEL_ALIAS]
    return None


def probe(settings: Settings) -> ServerRecord:
    """Fingerprint the pinned URL of ``settings``."""
    spec = settings.server
    if spec is None or spec.url is None:
        raise TargetError("no URL to probe: pass --llm-server=URL")
    return _probe(spec.url, settings)


def discovery_options(settings: Settings, *, every_phase: bool = False) -> DiscoveryOptions:
    """Discovery as the settings ask for it; a ``ScanInputError`` for a subnet over the cap."""
    for subnet in settings.scan_subnets:
        parse_subnet(subnet, settings.scan_max_hosts)
    cache_path = CACHE_FILE if settings.cache_dir is None else settings.cache_dir / CACHE_FILE.name
    return DiscoveryOptions(
        subnets=settings.scan_subnets,
        ports=settings.scan_ports or COMMON_PORTS,
        max_hosts=settings.scan_max_hosts,
        use_cache=not settings.no_cache,
        cache_path=cache_path,
        loopback_only=settings.scan_loopback_only,
        api=settings.api,
        api_key=settings.api_key,
        every_phase=every_phase,
    )


def run_discovery(
    settings: Settings,
    progress: ProgressCallback | None = None,
    *,
    every_phase: bool = False,
) -> Discovery:
    """Discover servers for ``settings`` (blocking)."""
    return asyncio.run(discover(discovery_options(settings, every_phase=every_phase), progress))


def _probe(url: str, settings: Settings) -> ServerRecord:
    return asyncio.run(
        probe_url(
            url,
            api=settings.api,
            api_key=settings.api_key,
            timeout_s=min(settings.timeout_s, 30.0),
        )
    )
