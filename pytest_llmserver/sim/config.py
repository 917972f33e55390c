"""Configuration records of the simulated server: timing, faults and the server itself."""

from __future__ import annotations

import ipaddress
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from pytest_llmserver.sim.exposition import MetricsFlavour
from pytest_llmserver.sim.persona import PERSONAS, Persona
from pytest_llmserver.sim.policy import DefaultPolicy, Policy

MetricsOption = Literal["auto", "vllm", "llamacpp", "off"]
METRICS_OPTIONS: tuple[MetricsOption, ...] = typing.get_args(MetricsOption)
AUTO_METRICS: dict[Persona, MetricsFlavour] = {
    "sim": "vllm",
    "vllm": "vllm",
    "llamacpp": "llamacpp",
}
DEFAULT_REPORTED_SLOTS = 4


@dataclass(frozen=True)
class TimingModel:
    """When generated tokens are written, relative to the end of the request."""

    ttft_s: float = 0.05
    per_token_s: float = 0.005
    jitter_s: float = 0.0
    prefill_s_per_token: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("ttft_s", "per_token_s", "jitter_s", "prefill_s_per_token"):
            value = getattr(self, name)
            if not value >= 0.0 or value == float("inf"):
                raise ValueError(f"TimingModel.{name} must be a finite number >= 0, got {value!r}")

    def service_s(self, completion_tokens: int, computed_prompt_tokens: int = 0) -> float:
        """How long a request holds its slot: ttft + prefill of the computed (not cached)
        prompt tokens + one step per generated token. With ``slots`` N and every request
        alike, the server sustains N / service_s requests per second."""
        prefill_s = self.prefill_s_per_token * computed_prompt_tokens
        return self.ttft_s + prefill_s + completion_tokens * self.per_token_s


class Fault(str, Enum):
    """A misbehaviour the simulator can put on a request."""

    NONE = "none"
    HTTP_500 = "http_500"
    CLOSE_MID_STREAM = "close_mid_stream"
    MALFORMED_EVENT = "malformed_event"
    STALL = "stall"
    NO_USAGE = "no_usage"
    ERROR_EVENT = "error_event"
    HTML = "html"
    REJECT_STREAM_OPTIONS = "reject_stream_options"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is a literal loopback IP address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SimConfig:
    """Settings of one simulated server."""

    host: str = "127.0.0.1"
    port: int = 0
    models: tuple[str, ...] = ("sim-small", "sim-reasoner")
    timing: TimingModel = field(default_factory=TimingModel)
    fault: Fault = Fault.NONE
    fault_after_tokens: int = 3
    stall_s: float = 2.0
    reasoning_style: Literal["field", "inline"] = "field"
    policy: Policy = field(default_factory=DefaultPolicy)
    persona: Persona = "sim"
    slots: int | None = None
    """At most this many requests generate at once; later ones wait in a FIFO queue (their
    TTFT includes the wait). ``None``: unlimited. The ``llamacpp`` persona reports it
    (``/props`` ``total_slots``, ``/slots``; 4 when unlimited)."""
    metrics: MetricsOption = "auto"
    """``/metrics`` flavour: ``vllm``, ``llamacpp`` or ``off``; ``auto`` follows the persona
    (``llamacpp`` for llamacpp, ``vllm`` for sim and vllm, off for the others: Ollama has none)."""
    kv_cache_tokens: int = 65536
    """KV-cache size per model in tokens: usage = tokens held by running requests / this."""

    @property
    def reported_slots(self) -> int:
        """The slot count the ``llamacpp`` persona reports."""
        return self.slots if self.slots is not None else DEFAULT_REPORTED_SLOTS

    @property
    def metrics_flavour(self) -> MetricsFlavour:
        """The ``/metrics`` flavour served (``auto`` resolved by the persona)."""
        if self.metrics != "auto":
            return self.metrics
        return AUTO_METRICS.get(self.persona, "off")

    def __post_init__(self) -> None:
        if not is_loopback_host(self.host):
            raise ValueError(f"the simulator binds loopback addresses only, not {self.host!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port out of range: {self.port}")
        if not self.models:
            raise ValueError("at least one model name is needed")
        if self.fault_after_tokens < 0:
            raise ValueError("fault_after_tokens must be >= 0")
        if not self.stall_s >= 0.0:
            raise ValueError("stall_s must be >= 0")
        if self.persona not in PERSONAS:
            raise ValueError(f"unknown persona {self.persona!r} (one of {', '.join(PERSONAS)})")
        if self.slots is not None and self.slots < 1:
            raise ValueError(f"slots must be >= 1, got {self.slots}")
        if self.metrics not in METRICS_OPTIONS:
            raise ValueError(
                f"unknown metrics {self.metrics!r} (one of {', '.join(METRICS_OPTIONS)})"
            )
        if self.kv_cache_tokens < 1:
            raise ValueError(f"kv_cache_tokens must be >= 1, got {self.kv_cache_tokens}")
        if self.reasoning_style not in ("field", "inline"):
            raise ValueError(f"unknown reasoning_style {self.reasoning_style!r}")
