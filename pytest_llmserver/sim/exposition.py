"""The simulator's ``/metrics`` body in the Prometheus text format (0.0.4), with the metric
names, types and help texts of vLLM's or llama.cpp's own server."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from pytest_llmserver.sim.metrics import FINISH_REASONS, Histogram, ModelMetrics, ServerMetrics

MetricsFlavour = Literal["vllm", "llamacpp", "off"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = tuple[tuple[str, str], ...]


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels) + "}"


class _Text:
    """Lines of one exposition: each family's HELP and TYPE, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: Labels, value: float) -> None:
        self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def histogram(self, name: str, labels: Labels, histogram: Histogram) -> None:
        bounds = [*histogram.bounds_s, math.inf]
        for bound, count in zip(bounds, histogram.cumulative(), strict=True):
            self.sample(f"{name}_bucket", (*labels, ("le", _number(bound))), count)
        self.sample(f"{name}_count", labels, histogram.count)
        self.sample(f"{name}_sum", labels, histogram.sum_s)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


_Value = Callable[[ModelMetrics], float]
_VLLM_GAUGES: tuple[tuple[str, str, _Value | None], ...] = (
    ("vllm:num_requests_running", "Number of requests in model execution batches.",
     lambda m: m.running),
    ("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
     lambda m: m.waiting),
    ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", None),
    ("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage. "
     "DEPRECATED: Use vllm:kv_cache_usage_perc instead.", None),
)  # fmt: skip
_VLLM_COUNTERS: tuple[tuple[str, str, _Value], ...] = (
    ("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.",
     lambda m: 0),
    ("vllm:prompt_tokens_total", "Number of prefill tokens processed.",
     lambda m: m.prompt_tokens),
    ("vllm:generation_tokens_total", "Number of generation tokens processed.",
     lambda m: m.generation_tokens),
)  # fmt: skip
_VLLM_HISTOGRAMS: tuple[tuple[str, str, Callable[[ModelMetrics], Histogram]], ...] = (
    ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
     lambda m: m.ttft),
    ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
     lambda m: m.itl),
    ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
     lambda m: m.e2e),
    ("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
     lambda m: m.queue),
    ("vllm:request_inference_time_seconds",
     "Histogram of time spent in RUNNING phase for request.", lambda m: m.inference),
    ("vllm:request_prefill_time_seconds",
     "Histogram of time spent in PREFILL phase for request.", lambda m: m.prefill),
    ("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.",
     lambda m: m.decode),
)  # fmt: skip


def vllm_text(metrics: ServerMetrics) -> str:
    """vLLM's families, one series per model (labels ``model_name`` and ``engine``)."""
    out = _Text()
    models = sorted(metrics.models.items())

    def labels(model: str) -> Labels:
        return (("model_name", model), ("engine", "0"))

    for name, help_text, gauge in _VLLM_GAUGES:
        out.family(name, "gauge", help_text)
        for model, m in models:
            value = gauge(m) if gauge is not None else m.kv_tokens / metrics.kv_cache_tokens
            out.sample(name, labels(model), value)
    for name, help_text, counter in _VLLM_COUNTERS:
        out.family(name, "counter", help_text)
        for model, m in models:
            out.sample(name, labels(model), counter(m))
    name = "vllm:request_success_total"
    out.family(name, "counter", "Count of successfully processed requests.")
    for model, m in models:
        for reason in FINISH_REASONS:
            out.sample(name, (*labels(model), ("finished_reason", reason)), m.finished[reason])
    for name, help_text, histogram in _VLLM_HISTOGRAMS:
        out.family(name, "histogram", help_text)
        for model, m in models:
            out.histogram(name, labels(model), histogram(m))
    return out.text()


def _rate(tokens: int, seconds: float) -> float:
    return tokens / seconds if seconds > 0 else 0.0


def llamacpp_text(metrics: ServerMetrics) -> str:
    """llama.cpp's families (one model, no labels); the two rate gauges cover the work since
    the previous scrape, as llama.cpp's do."""
    ms = list(metrics.models.values())
    decodes = sum(m.decodes for m in ms)
    bucket = metrics.take_bucket()
    rows: tuple[tuple[str, str, str, float], ...] = (
        ("prompt_tokens_total", "counter", "Number of prompt tokens processed.",
         sum(m.prompt_computed_tokens for m in ms)),
        ("prompt_seconds_total", "counter", "Prompt process time", sum(m.prompt_s for m in ms)),
        ("tokens_predicted_total", "counter", "Number of generation tokens processed.",
         sum(m.generation_tokens for m in ms)),
        ("tokens_predicted_seconds_total", "counter", "Predict process time",
         sum(m.decode_s for m in ms)),
        ("n_decode_total", "counter", "Total number of llama_decode() calls", decodes),
        ("prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.",
         _rate(bucket.prompt_tokens, bucket.prompt_s)),
        ("predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.",
         _rate(bucket.predicted_tokens, bucket.predicted_s)),
        ("requests_processing", "gauge", "Number of requests processing.", metrics.running),
        ("requests_deferred", "gauge", "Number of requests deferred.",
         sum(m.waiting for m in ms)),
        ("n_busy_slots_per_decode", "gauge",
         "Average number of busy slots per llama_decode() call",
         sum(m.busy_slots_total for m in ms) / max(decodes, 1)),
    )  # fmt: skip
    out = _Text()
    for name, kind, help_text, value in rows:
        out.family(f"llamacpp:{name}", kind, help_text)
        out.sample(f"llamacpp:{name}", (), value)
    return out.text()


def exposition(metrics: ServerMetrics, flavour: MetricsFlavour) -> str:
    """The ``/metrics`` body of ``flavour``."""
    if flavour == "llamacpp":
        return llamacpp_text(metrics)
    return vllm_text(metrics)
