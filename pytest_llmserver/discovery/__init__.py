"""Discovery for ``--llm-server=auto``: scan, fingerprint, cache and health-check servers."""

from pytest_llmserver.discovery.cache import (
    CACHE_FILE,
    CACHE_TTL_S,
    CacheWarning,
    default_cache_file,
    load_cache,
    save_cache,
)
from pytest_llmserver.discovery.fingerprint import (
    check_endpoint,
    context_length,
    fingerprint,
    probe_server,
    probe_url,
)
from pytest_llmserver.discovery.health import check_server_health, quick_validate_cache
from pytest_llmserver.discovery.netscan import (
    COMMON_PORTS,
    DEFAULT_MAX_HOSTS,
    InterfaceAddress,
    ScanInputError,
    local_scope,
    parse_ports,
    parse_subnet,
)
from pytest_llmserver.discovery.progress import (
    AnyProgressCallback,
    ProgressCallback,
    ScanProgress,
    SeedProgressCallback,
)
from pytest_llmserver.discovery.scan import Discovery, DiscoveryOptions, discover, scan_network

__all__ = [
    "CACHE_FILE",
    "CACHE_TTL_S",
    "COMMON_PORTS",
    "DEFAULT_MAX_HOSTS",
    "AnyProgressCallback",
    "CacheWarning",
    "Discovery",
    "DiscoveryOptions",
    "InterfaceAddress",
    "ProgressCallback",
    "ScanInputError",
    "ScanProgress",
    "SeedProgressCallback",
    "check_endpoint",
    "check_server_health",
    "context_length",
    "default_cache_file",
    "discover",
    "fingerprint",
    "load_cache",
    "local_scope",
    "parse_ports",
    "parse_subnet",
    "probe_server",
    "probe_url",
    "quick_validate_cache",
    "save_cache",
    "scan_network",
]
