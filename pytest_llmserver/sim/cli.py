"""The simulator's command line: `python -m pytest_llmserver.sim --port N` serves until stopped."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence

from pytest_llmserver.sim.config import (
    METRICS_OPTIONS,
    Fault,
    SimConfig,
    TimingModel,
    is_loopback_host,
)
from pytest_llmserver.sim.persona import PERSONAS
from pytest_llmserver.sim.policy import DefaultPolicy, Policy
from pytest_llmserver.sim.server import SimServer


def build_parser(prog: str = "python -m pytest_llmserver.sim") -> argparse.ArgumentParser:
    """The command line's arguments."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a simulated OpenAI-compatible and Ollama LLM server on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--ttft-ms", type=float, default=50.0, help="time to first token, ms")
    parser.add_argument("--token-ms", type=float, default=5.0, help="gap between tokens, ms")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="+/- jitter per token, ms")
    parser.add_argument(
        "--prefill-ms-per-token", type=float, default=0.0, help="ms per prompt token"
    )
    parser.add_argument("--seed", type=int, default=0, help="jitter seed")
    parser.add_argument(
        "--fault",
        default=Fault.NONE.value,
        choices=[f.value for f in Fault],
        help="fault put on every request",
    )
    parser.add_argument("--fault-after-tokens", type=int, default=3, help="tokens before the fault")
    parser.add_argument("--stall-ms", type=float, default=2000.0, help="length of a stall, ms")
    parser.add_argument("--answer-tokens", type=int, default=32, help="answer length in tokens")
    parser.add_argument("--reasoning-tokens", type=int, default=16, help="reasoning length")
    parser.add_argument(
        "--reasoning-style", default="field", choices=["field", "inline"], help="OpenAI reasoning"
    )
    parser.add_argument(
        "--models", default="sim-small,sim-reasoner", help="comma-separated model names"
    )
    parser.add_argument(
        "--persona", default="sim", choices=list(PERSONAS), help="server product to look like"
    )
    parser.add_argument(
        "--slots",
        type=int,
        default=None,
        help="requests generated at once; later ones queue (default: unlimited)",
    )
    parser.add_argument(
        "--metrics",
        default="auto",
        choices=list(METRICS_OPTIONS),
        help="/metrics flavour (default auto: by persona, vllm for sim)",
    )
    parser.add_argument(
        "--kv-cache-tokens", type=int, default=65536, help="KV-cache size per model, tokens"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The ``SimConfig`` the parsed arguments describe."""
    models = tuple(m.strip() for m in str(args.models).split(",") if m.strip())
    timing = TimingModel(
        ttft_s=args.ttft_ms / 1000.0,
        per_token_s=args.token_ms / 1000.0,
        jitter_s=args.jitter_ms / 1000.0,
        prefill_s_per_token=args.prefill_ms_per_token / 1000.0,
        seed=args.seed,
    )
    policy: Policy = DefaultPolicy(args.answer_tokens, args.reasoning_tokens)
    return SimConfig(
        host=args.host,
        port=args.port,
        models=models,
        timing=timing,
        fault=Fault(args.fault),
        fault_after_tokens=args.fault_after_tokens,
        stall_s=args.stall_ms / 1000.0,
        reasoning_style=args.reasoning_style,
        policy=policy,
        persona=args.persona,
        slots=args.slots,
        metrics=args.metrics,
        kv_cache_tokens=args.kv_cache_tokens,
    )


async def _serve(config: SimConfig) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with SimServer(config) as server:
        print(f"pytest-llmserver sim listening on {server.url}", flush=True)
        await stop.wait()


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "python -m pytest_llmserver.sim",
    extend: Callable[[SimConfig], SimConfig] | None = None,
) -> int:
    """Run the simulator until SIGINT/SIGTERM; returns the process exit status. ``extend``
    may add models and a policy to the configuration the arguments give."""
    cli = build_parser(prog)
    args = cli.parse_args(argv)
    if not is_loopback_host(args.host):
        cli.error(
            f"--host {args.host!r} is not a loopback address; the simulator binds loopback only"
        )
    try:
        config = config_from_args(args)
    except ValueError as exc:
        cli.error(str(exc))
    if extend is not None:
        config = extend(config)
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        print(f"pytest-llmserver sim: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0
