"""Discovery for ``--llm-server=auto``: scan, fingerprint, cache and health-check servers."""

from pytest_llmserver.discovery.cache import (
    CACHE_FILE,
    CACHE_TTL_S,
    CacheWarning,
    load_cache,
    save_cache,
)
from pytest_llmserver.discovery.fingerprint import (
    check_endpoint,
    context_length,
    fingerprint,
    probe_url,
)
from pytest_llmserver.discovery.netscan import (
    COMMON_PORTS,
    DEFAULT_MAX_HOSTS,
    InterfaceAddress,
    ScanInputError,
    local_scope,
    parse_ports,
    parse_subnet,
)
from pytest_llmserver.discovery.scan import (
    Discovery,
    DiscoveryOptions,
    ProgressCallback,
    ScanProgress,
    check_server_health,
    discover,
    probe_server,
    quick_validate_cache,
    scan_network,
)

__all__ = [
    "CACHE_FILE",
    "CACHE_TTL_S",
    "COMMON_PORTS",
    "DEFAULT_MAX_HOSTS",
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
