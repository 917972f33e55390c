"""Which server a Prometheus scrape comes from, and the sample names that hold the figures we
report for each (first name present wins; newer server versions renamed some)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One server's metric names. Gauges: ``running``, ``waiting``, ``kv_use`` (a fraction
    0..1); counters: ``preemptions``, ``prompt_tokens``, ``cached_prompt_tokens`` (where a
    server counts them apart: llama.cpp), ``generated_tokens``; histograms in seconds:
    ``histograms`` (our metric name -> candidate histogram names)."""

    name: str
    prefix: str
    running: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    kv_use: tuple[str, ...] = ()
    preemptions: tuple[str, ...] = ()
    prompt_tokens: tuple[str, ...] = ()
    cached_prompt_tokens: tuple[str, ...] = ()
    generated_tokens: tuple[str, ...] = ()
    histograms: tuple[tuple[str, tuple[str, ...]], ...] = ()


VLLM = Family(
    "vllm",
    "vllm:",
    running=("vllm:num_requests_running",),
    waiting=("vllm:num_requests_waiting",),
    kv_use=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    preemptions=("vllm:num_preemptions_total",),
    prompt_tokens=("vllm:prompt_tokens_total",),
    generated_tokens=("vllm:generation_tokens_total",),
    histograms=(
        ("ttft_s", ("vllm:time_to_first_token_seconds",)),
        ("itl_s", ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds")),
        ("e2e_s", ("vllm:e2e_request_latency_seconds",)),
        ("queue_s", ("vllm:request_queue_time_seconds",)),
    ),
)
SGLANG = Family(
    "sglang",
    "sglang:",
    running=("sglang:num_running_reqs",),
    waiting=("sglang:num_queue_reqs",),
    kv_use=("sglang:token_usage",),
    preemptions=("sglang:num_retracted_reqs_total",),
    prompt_tokens=("sglang:prompt_tokens_total",),
    generated_tokens=("sglang:generation_tokens_total",),
    histograms=(
        ("ttft_s", ("sglang:time_to_first_token_seconds",)),
        ("itl_s", ("sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds")),
        ("e2e_s", ("sglang:e2e_request_latency_seconds",)),
        ("queue_s", ("sglang:queue_time_seconds",)),
    ),
)
LLAMACPP = Family(
    "llamacpp",
    "llamacpp:",
    running=("llamacpp:requests_processing",),
    waiting=("llamacpp:requests_deferred",),
    kv_use=("llamacpp:kv_cache_usage_ratio",),
    prompt_tokens=("llamacpp:prompt_tokens_total",),
    cached_prompt_tokens=("llamacpp:prompt_tokens_cached_total",),
    generated_tokens=("llamacpp:tokens_predicted_total",),
)
TGI = Family(
    "tgi",
    "tgi_",
    running=("tgi_batch_current_size",),
    waiting=("tgi_queue_size",),
    prompt_tokens=("tgi_request_input_length_sum",),
    generated_tokens=("tgi_request_generated_tokens_sum",),
    histograms=(
        ("itl_s", ("tgi_request_mean_time_per_token_duration",)),
        ("e2e_s", ("tgi_request_duration",)),
        ("queue_s", ("tgi_request_queue_duration",)),
    ),
)
GENERIC = Family("generic", "")
FAMILIES: tuple[Family, ...] = (VLLM, SGLANG, LLAMACPP, TGI)


def family_of(names: Iterable[str]) -> Family:
    """The family whose prefix most sample names carry; ``GENERIC`` when none does."""
    counts = {family.name: 0 for family in FAMILIES}
    for name in names:
        for family in FAMILIES:
            if name.startswith(family.prefix):
                counts[family.name] += 1
    best = max(FAMILIES, key=lambda family: counts[family.name])
    return best if counts[best.name] else GENERIC


def family_named(name: str) -> Family:
    """The family called ``name`` (``GENERIC`` for any other)."""
    return next((family for family in FAMILIES if family.name == name), GENERIC)
