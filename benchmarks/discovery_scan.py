"""How long discovery takes to sweep a /24 of closed ports on loopback with default settings.

Target: < 3 s for 127.0.0.0/24 x the 8 common ports (2032 connects), cache off. Only loopback
is touched. Run: ``python benchmarks/discovery_scan.py [--subnet 127.0.0.0/24] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import time

from pytest_llmserver.discovery import COMMON_PORTS, DiscoveryOptions, discover


async def one_run(subnet: str) -> tuple[float, int, int]:
    options = DiscoveryOptions(subnets=(subnet,), use_cache=False, loopback_only=True)
    started_ns = time.perf_counter_ns()
    result = await discover(options)
    elapsed_s = (time.perf_counter_ns() - started_ns) / 1e9
    return elapsed_s, len(result.servers), len(result.rejected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subnet", default="127.0.0.0/24")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    subnet = ipaddress.ip_network(args.subnet)
    loopback = ipaddress.IPv4Network("127.0.0.0/8")
    if not (isinstance(subnet, ipaddress.IPv4Network) and subnet.subnet_of(loopback)):
        parser.error("this benchmark scans loopback only (127.0.0.0/8)")
    hosts = ipaddress.ip_network(args.subnet).num_addresses - 2
    print(f"subnet {args.subnet}: {hosts} hosts x {len(COMMON_PORTS)} ports, cache off")
    times = []
    for run in range(1, args.runs + 1):
        elapsed_s, servers, rejected = asyncio.run(one_run(args.subnet))
        times.append(elapsed_s)
        print(f"run {run}: {elapsed_s:.3f} s, {servers} LLM servers, {rejected} other open ports")
    verdict = "met" if max(times) < 3.0 else "NOT met"
    print(f"slowest {max(times):.3f} s; target < 3 s {verdict}")


if __name__ == "__main__":
    main()
