"""Discovery for ``--llm-server=auto``: scan, cache and health-check servers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.discovery.cache import (
        CACHE_FILE,
        CacheWarning,
        load_cache,
        save_cache,
    )
    from pytest_llmserver.discovery.fingerprint import (
        check_endpoint,
        context_length,
        probe_server,
        probe_url,
    )
    from pytest_llmserver.discovery.health import check_server_health, quick_validate_cache
    from pytest_llmserver.discovery.netscan import (
        COMMON_PORTS,
        InterfaceAddress,
        ScanInputError,
        local_scope,
        parse_ports,
        parse_subnet,
    )
    from pytest_llmserver.discovery.progress import (
        ProgressCallback,
        ScanProgress,
    )
    from pytest_llmserver.discovery.scan import Discovery, DiscoveryOptions, discover, scan_network
    from pytest_llmserver.discovery.slots import server_slots

__all__ = [
    "CACHE_FILE",
    "COMMON_PORTS",
    "CacheWarning",
    "Discovery",
    "DiscoveryOptions",
    "InterfaceAddress",
    "ProgressCallback",
    "ScanInputError",
    "ScanProgress",
    "check_endpoint",
    "check_server_health",
    "context_length",
    "discover",
    "load_cache",
    "local_scope",
    "parse_ports",
    "parse_subnet",
    "probe_server",
    "probe_url",
    "quick_validate_cache",
    "save_cache",
    "scan_network",
    "server_slots",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "cache": "CACHE_FILE CacheWarning load_cache save_cache",
            "fingerprint": "check_endpoint context_length probe_server probe_url",
            "health": "check_server_health quick_validate_cache",
            "netscan": (
                "COMMON_PORTS InterfaceAddress ScanInputError local_scope parse_ports parse_subnet"
            ),
            "progress": "ProgressCallback ScanProgress",
            "scan": "Discovery DiscoveryOptions discover scan_network",
            "slots": "server_slots",
        },
    )
