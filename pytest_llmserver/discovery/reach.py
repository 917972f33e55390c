"""Where discovery may connect: a known server is checked against the scope on the address it
will be contacted at.

A cached record holds both an ``ip`` and a ``url``; only the URL is contacted, so the URL's
host is what counts. A host name is resolved first (within a time limit), every address it
resolves to must lie in the scope, and the record is then contacted at the address that was
checked, never at the name again: a second resolution cannot lead elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery.netscan import ScanScope

RESOLVE_S = 2.0
"""The longest a host name may take to resolve."""


def in_scope(address: str, scope: ScanScope, local_hosts: list[str]) -> bool:
    """Whether ``address`` (an IP) is one of ``local_hosts`` or inside ``scope``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    local = {ipaddress.ip_address(h) for h in local_hosts}
    return ip in local or scope.contains(str(ip))


async def addresses_of(host: str, port: int, timeout_s: float) -> list[str]:
    """The IP addresses ``host`` stands for (itself when it is one); ``[]`` if it does not
    resolve in time."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s
        )
    except (OSError, asyncio.TimeoutError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def reachable(
    record: ServerRecord, scope: ScanScope, local_hosts: list[str], timeout_s: float = RESOLVE_S
) -> ServerRecord | str:
    """``record`` as it will be contacted (its URL's host replaced by the checked address),
    or why it must not be."""
    try:
        parts = urlsplit(record.url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"cached {record.url}: not a URL; not contacted"
    if not host:
        return f"cached {record.url}: no host; not contacted"
    addresses = await addresses_of(host, port, min(timeout_s, RESOLVE_S))
    if not addresses:
        return f"cached {record.url}: {host} does not resolve; not contacted"
    outside = [a for a in addresses if not in_scope(a, scope, local_hosts)]
    if outside:
        return f"cached {record.url}: {', '.join(outside)} is outside the scan scope; not contacted"
    address = addresses[0]
    shown = f"[{address}]" if ":" in address else address
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{netloc}" if userinfo else netloc
    url = urlunsplit(parts._replace(netloc=netloc))
    return replace(record, url=url, ip=address, port=port)
