"""Bring up the server a ``Settings`` names: start ``sim`` / ``local``, probe a URL, or
discover one (``auto``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_llmserver.client import ServerRecord, TargetError
from pytest_llmserver.discovery import (
    CACHE_FILE,
    COMMON_PORTS,
    Discovery,
    DiscoveryOptions,
    ProgressCallback,
    discover,
    parse_subnet,
    probe_url,
)
from pytest_llmserver.settings import Settings


@contextmanager
def serve(settings: Settings, found: ServerRecord | None = None) -> Iterator[ServerRecord]:
    """Yield the record of a ready server; stop what was started here on exit.

    ``found`` is a record resolved before the session (the ``auto`` choice, or a URL probed
    early for ``--llm-model=all``); it is used as it is.
    """
    spec = settings.target.server
    if spec is None:
        raise TargetError("no server given: pass --llm-server=auto|URL|HOST:PORT|sim|local")
    if found is not None:
        yield found
    elif spec.mode == "sim":
        # Imported here, as in the other branches: a server is loaded only when asked for.
        from pytest_llmserver.servers.bench_sim import bench_sim_config
        from pytest_llmserver.sim import SimThread

        with SimThread(bench_sim_config(settings.target.sim_slowdown)) as sim:
            yield _probe(sim.url, settings)
    elif spec.mode == "local":
        from pytest_llmserver.local import LocalServer, LocalServerConfig

        if settings.target.api == "ollama":
            raise TargetError("--llm-server=local speaks the OpenAI API; drop --llm-api=ollama")
        config = LocalServerConfig(log_path=settings.run.logs / "local-server.log")
        with LocalServer(config) as started:
            record = _probe(started.url, settings)
            record.response_time_ms = started.response_time_ms
            yield record
    elif spec.mode == "url" and spec.url:
        yield _probe(spec.url, settings)
    else:
        raise TargetError("--llm-server=auto found no server (see the discovery note above)")


def static_models(settings: Settings) -> list[str] | None:
    """Models of a ``sim`` or ``local`` server, known without starting it; else ``None``."""
    spec = settings.target.server
    if spec is not None and spec.mode == "sim":
        from pytest_llmserver.servers.bench_sim import bench_models

        return list(bench_models())
    if spec is not None and spec.mode == "local":
        from pytest_llmserver.local import MODEL_ALIAS

        return [MODEL_ALIAS]
    return None


def probe(settings: Settings) -> ServerRecord:
    """Fingerprint the pinned URL of ``settings``."""
    spec = settings.target.server
    if spec is None or spec.url is None:
        raise TargetError("no URL to probe: pass --llm-server=URL")
    return _probe(spec.url, settings)


def discovery_options(settings: Settings, *, every_phase: bool = False) -> DiscoveryOptions:
    """Discovery as the settings ask for it; a ``ScanInputError`` for a subnet over the cap."""
    scan = settings.discovery
    for subnet in scan.scan_subnet:
        parse_subnet(subnet, scan.scan_max_hosts)
    cache_path = CACHE_FILE if scan.cache_dir is None else scan.cache_dir / CACHE_FILE.name
    return DiscoveryOptions(
        subnets=scan.scan_subnet,
        ports=scan.scan_ports or COMMON_PORTS,
        max_hosts=scan.scan_max_hosts,
        use_cache=not scan.no_cache,
        cache_path=cache_path,
        loopback_only=scan.scan_loopback_only,
        api=settings.target.api,
        api_key=settings.target.api_key,
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
            api=settings.target.api,
            api_key=settings.target.api_key,
            timeout_s=min(settings.target.timeout_s, 30.0),
        )
    )
