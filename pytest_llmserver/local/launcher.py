"""Subprocess entry point: run llama.cpp's HTTP server (xllamacpp) until terminated.

``python -m pytest_llmserver.local.launcher --model PATH --port N [...]``. xllamacpp has no
command line of its own; this builds its ``CommonParams`` and keeps ``Server`` alive.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pytest_llmserver.local.launcher")
    parser.add_argument("--model", required=True, help="GGUF file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ctx", type=int, default=16384, help="context shared by all slots")
    parser.add_argument("--parallel", type=int, default=4, help="slots (concurrent sequences)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--alias", default="", help="model name served on the API")
    parser.add_argument("--chat-template", default="", help="jinja template file")
    parser.add_argument("--verbosity", type=int, default=2)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the server, print one READY line, serve until SIGTERM/SIGINT."""
    args = _parse(argv)
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cont_batching = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.endpoint_metrics = True
    params.endpoint_props = True
    params.endpoint_slots = True
    params.verbosity = args.verbosity
    if args.alias:
        params.model_alias = {args.alias}  # a set of names; a bare str would become its letters
    if args.chat_template:
        params.use_jinja = True
        params.chat_template = Path(args.chat_template).read_text(encoding="utf-8")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = xllamacpp.Server(params)
    print(f"READY {server.listening_address}", flush=True)
    stop.wait()
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
