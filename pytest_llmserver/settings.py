"""One ``Settings`` object, resolved from CLI > environment > ini > default, in groups derived
from the option specs (``options.py``): each field is an option's name plus its unit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmserver._util import redact_url, without_secrets
from pytest_llmserver.options import (
    OPTIONS,
    ApiChoice,
    OptionSpec,
    ServerSpec,
    SettingsError,
    parse_server_spec,
)

if TYPE_CHECKING:
    from pytest_llmserver.stress import TokenLengths

__all__ = [
    "OPTIONS",
    "ArenaSettings",
    "DiscoverySettings",
    "GateSettings",
    "OptionSpec",
    "RunSettings",
    "ServerSpec",
    "Settings",
    "SettingsError",
    "StressSettings",
    "TargetSettings",
    "parse_server_spec",
]


@dataclass(frozen=True)
class TargetSettings:
    """Which server and model, and how to talk to them."""

    server: ServerSpec | None
    model: str | None
    api: ApiChoice
    api_key: str | None = field(repr=False)
    timeout_s: float
    sim_slowdown: float
    header: dict[str, str] = field(repr=False)
    """Extra HTTP headers on every request (``--llm-header``)."""


@dataclass(frozen=True)
class RunSettings:
    """What every part of a run shares."""

    logs: Path
    concurrency: int
    max_tokens: int | None
    seed: int
    repeat: int
    save_transcripts: bool
    builtin: str
    temperature: float | None
    sampling_seed: int | None
    top_p: float | None
    extra_body: dict[str, Any] | None = field(repr=False)


@dataclass(frozen=True)
class DiscoverySettings:
    """How ``--llm-server=auto`` looks for servers (and ``--llm-list``)."""

    scan_subnet: tuple[str, ...]
    scan_ports: tuple[int, ...] | None
    scan_max_hosts: int
    scan_loopback_only: bool
    no_cache: bool
    cache_dir: Path | None
    list: bool


@dataclass(frozen=True)
class StressSettings:
    """The stress modes' workloads and SLOs."""

    warmup: int
    sweep: tuple[int, ...]
    total: int
    rpm: float
    arrival: str
    burstiness: float
    duration_s: float
    token_sizes: tuple[int, ...]
    arrival_rate: float
    session_profile: str
    slo: dict[str, float]
    stress_tier: str
    shards: int
    workers: int | None
    meeting_host: str
    dataset: str | None
    prompt: str | None
    shared_prefix_tokens: int
    input_tokens: TokenLengths | None
    output_tokens: TokenLengths | None
    server_metrics: tuple[str, ...]
    server_metrics_interval_s: float
    sweep_points: int
    sweep_min_requests: int
    ramp_s: float
    max_error_rate: float | None


@dataclass(frozen=True)
class GateSettings:
    """Baselines and the regression check."""

    baseline: str | None
    save_baseline: str | None
    regression_threshold: float
    noise_floor_ms: float


@dataclass(frozen=True)
class ArenaSettings:
    """The prompt and model arenas."""

    judge_model: str | None
    arena_prompts: tuple[str, ...]
    arena_questions: tuple[str, ...]
    arena_models: tuple[str, ...] | None


_GROUPS: dict[str, type[Any]] = {
    "target": TargetSettings,
    "run": RunSettings,
    "discovery": DiscoverySettings,
    "stress": StressSettings,
    "gate": GateSettings,
    "arena": ArenaSettings,
}
_PATHS = frozenset({"logs", "cache_dir"})


@dataclass(frozen=True)
class Settings:
    """Everything a run was configured with, by group."""

    target: TargetSettings
    run: RunSettings
    discovery: DiscoverySettings
    stress: StressSettings
    gate: GateSettings
    arena: ArenaSettings

    @classmethod
    def resolve(
        cls,
        cli: Mapping[str, str | None],
        env: Mapping[str, str],
        ini: Mapping[str, str | None],
    ) -> Settings:
        """Resolve every option by name from CLI, then environment, then ini, then default;
        a bad value raises ``SettingsError`` naming where it came from."""
        groups: dict[str, dict[str, Any]] = {name: {} for name in _GROUPS}
        for spec in OPTIONS:
            raw, source = cli.get(spec.name), spec.flag
            if raw is None and env.get(spec.env):
                raw, source = env[spec.env], f"environment variable {spec.env}"
            if raw is None and ini.get(spec.name):
                raw, source = ini[spec.name], f"ini option {spec.ini}"
            if raw is None:
                raw, source = spec.default, spec.flag
            value = None if raw is None else spec.parse(raw, source)
            if spec.field in _PATHS and value is not None:
                value = Path(value)
            groups[spec.group][spec.field] = value
        built = {name: group(**groups[name]) for name, group in _GROUPS.items()}
        return cls(**built)

    @classmethod
    def defaults(cls) -> Settings:
        """The settings of a run given no options at all."""
        return cls.resolve({}, {}, {})

    def public_dict(self) -> dict[str, Any]:
        """Every setting by option name, for reports: secrets only as ``set`` (or None), a
        server URL without its password."""
        out: dict[str, Any] = {}
        for spec in OPTIONS:
            value = getattr(getattr(self, spec.group), spec.field)
            if spec.secret:
                value = "set" if value else None
            elif isinstance(value, ServerSpec):
                value = redact_url(value.url) if value.url else value.mode
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):  # URLs among them (scrape targets) without passwords
                value = [redact_url(v) if isinstance(v, str) and "://" in v else v for v in value]
            elif isinstance(value, dict):
                value = _public(value)
            elif is_dataclass(value):  # a value object such as token lengths: its text
                value = str(value)
            out[spec.field] = value
        return out

    def secrets(self) -> list[str]:
        """The secret values a run sends: the API key and secret-named header values."""
        shown = without_secrets(self.target.header)
        found = [v for k, v in self.target.header.items() if k not in shown and v]
        found += [v.split()[-1] for v in found if len(v.split()) > 1]  # "Bearer <token>"
        return [self.target.api_key, *found] if self.target.api_key else found


def _public(value: Any) -> Any:
    """``value`` with the value of every secret-named key shown only as ``set``."""
    if isinstance(value, dict):
        shown = without_secrets({k: None for k in value})
        return {k: _public(v) if k in shown else "set" for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value
