"""A fake metrics endpoint on 127.0.0.1 (``http.server`` on a thread): vLLM-like or
llama.cpp-like Prometheus text whose counters advance on every scrape, Ollama's ``/api/ps``,
or an HTML page; it keeps the headers it was sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

LLAMACPP_TEXT = """# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total {prompt}
# TYPE llamacpp:prompt_tokens_cached_total counter
llamacpp:prompt_tokens_cached_total {cached}
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total {generated}
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing {running}
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred {waiting}
"""

VLLM_TEXT = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{{model_name="m"}} {running}
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{{model_name="m"}} {waiting}
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{{model_name="m"}} {kv}
# TYPE vllm:num_preemptions_total counter
vllm:num_preemptions_total{{model_name="m"}} {preempted}
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{{model_name="m"}} {prompt}
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{{model_name="m"}} {generated}
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{{le="0.1",model_name="m"}} {fast}
vllm:time_to_first_token_seconds_bucket{{le="0.5",model_name="m"}} {total}
vllm:time_to_first_token_seconds_bucket{{le="+Inf",model_name="m"}} {total}
vllm:time_to_first_token_seconds_count{{model_name="m"}} {total}
vllm:time_to_first_token_seconds_sum{{model_name="m"}} {seconds}
"""


def vllm_text(n: int) -> str:
    """vLLM's text after ``n`` scrapes: 50 generated and 100 prompt tokens, one preemption
    every second scrape, two TTFTs (one under 0.1 s, one under 0.5 s) per scrape."""
    return VLLM_TEXT.format(
        running=n % 3,
        waiting=n % 2,
        kv=0.1 * (n % 5),
        preempted=n // 2,
        prompt=100 * n,
        generated=50 * n,
        fast=n,
        total=2 * n,
        seconds=0.3 * n,
    )


def llamacpp_text(n: int) -> str:
    """llama.cpp's text after ``n`` scrapes: 20 generated, 7 prompt and 4 cached tokens each."""
    return LLAMACPP_TEXT.format(
        prompt=7 * n, cached=4 * n, generated=20 * n, running=n % 4, waiting=n % 2
    )


class FakeMetrics:
    """``kind``: ``vllm``, ``llamacpp``, ``ollama`` (``/api/ps`` only) or ``html``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.scrapes = 0
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.headers.append(dict(self.headers.items()))
                status, kind, body = fake.answer(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str) -> tuple[int, str, str]:
        text = "text/plain; version=0.0.4"
        if path == "/metrics" and self.kind in ("vllm", "llamacpp"):
            self.scrapes += 1
            make = vllm_text if self.kind == "vllm" else llamacpp_text
            return 200, text, make(self.scrapes)
        if path == "/metrics" and self.kind == "html":
            return 200, "text/html", "<html><body>Welcome</body></html>"
        if path == "/api/ps" and self.kind == "ollama":
            self.scrapes += 1
            models = [
                {
                    "name": "qwen:0.5b",
                    "size": 500 + self.scrapes,
                    "size_vram": 0,
                    "expires_at": "2026-11-30T10:00:00Z",
                }
            ]
            return 200, "application/json", json.dumps({"models": models})
        return 404, "text/plain", "404 page not found"

    def __enter__(self) -> FakeMetrics:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop answering (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
