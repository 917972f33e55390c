"""One ``Settings`` object, resolved from CLI > environment > ini > default."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

ServerMode = Literal["url", "sim", "local", "auto"]
ApiChoice = Literal["auto", "openai", "ollama"]


class SettingsError(ValueError):
    """A bad option value; the message names the option and the accepted form."""


@dataclass(frozen=True)
class ServerSpec:
    """What ``--llm-server`` asked for: a URL, or the ``sim`` / ``local`` / ``auto`` keyword."""

    mode: ServerMode
    url: str | None = None


def parse_server_spec(raw: str, source: str = "--llm-server") -> ServerSpec:
    """Parse ``URL``, ``HOST:PORT``, ``sim``, ``local`` or ``auto``."""
    value = raw.strip()
    if value.lower() in ("sim", "local", "auto"):
        return ServerSpec(mode=value.lower())  # type: ignore[arg-type]
    bad = SettingsError(
        f"{source}: {raw!r} is not auto, a URL, HOST:PORT, sim or local "
        "(examples: http://127.0.0.1:8080, localhost:11434, sim)"
    )
    has_scheme = "://" in value
    if not value or any(ch.isspace() for ch in value):
        raise bad
    parts = urlsplit(value if has_scheme else "http://" + value)
    try:
        port = parts.port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise bad
    if not has_scheme and (port is None or parts.path):
        raise bad
    return ServerSpec(mode="url", url=f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/"))


def _server(raw: str, source: str) -> ServerSpec:
    return parse_server_spec(raw, source)


def _model(raw: str, source: str) -> str:
    value = raw.strip()
    if not value:
        raise SettingsError(f"{source}: empty model name (pass NAME, first or all)")
    return value


def _api(raw: str, source: str) -> str:
    value = raw.strip().lower()
    if value not in ("auto", "openai", "ollama"):
        raise SettingsError(f"{source}: {raw!r} is not one of auto, openai, ollama")
    return value


def _float_in(accept: Callable[[float], bool], form: str) -> Callable[[str, str], float]:
    """A parser of numbers that ``accept`` allows; ``form`` names them in the error."""

    def parse(raw: str, source: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not accept(value):
            raise SettingsError(f"{source}: {raw!r} is not {form}")
        return value

    return parse


_positive_seconds = _float_in(
    lambda v: 0.0 < v < math.inf, "a positive number of seconds (e.g. 120)"
)
_positive_float = _float_in(lambda v: 0.0 < v < math.inf, "a positive number (e.g. 2.5)")
_fraction = _float_in(lambda v: 0.0 <= v < 10.0, "a fraction >= 0 (e.g. 0.1 for 10%)")
_non_negative_float = _float_in(lambda v: 0.0 <= v < math.inf, "a number >= 0 (e.g. 5)")


def _whole_number(minimum: int, example: int) -> Callable[[str, str], int]:
    """A parser of whole numbers >= ``minimum``."""

    def parse(raw: str, source: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise SettingsError(
                f"{source}: {raw!r} is not a whole number >= {minimum} (e.g. {example})"
            )
        return value

    return parse


_positive_int = _whole_number(1, 4)
_non_negative_int = _whole_number(0, 1)


def _text(raw: str, source: str) -> str:
    return raw


def _int_list(raw: str, source: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise SettingsError(
            f"{source}: {raw!r} is not a comma list of whole numbers >= 1 (e.g. 1,4,16)"
        )
    return values


def _flag(raw: str, source: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{source}: {raw!r} is not a yes/no value (1, true, 0, false)")


def _subnets(raw: str, source: str) -> tuple[str, ...]:
    from pytest_llmserver.discovery import ScanInputError, parse_subnet

    values = tuple(part.strip() for part in raw.replace(" ", ",").split(",") if part.strip())
    for value in values:
        try:
            parse_subnet(value, max_hosts=2**128)  # the cap is checked once it is known
        except ScanInputError as exc:
            raise SettingsError(str(exc).replace("--llm-scan-subnet", source, 1)) from None
    return values


def _baseline(raw: str, source: str) -> str:
    value = raw.strip()
    if not value:
        raise SettingsError(f"{source}: empty (pass auto, a directory or a .json file)")
    return value


def _names(raw: str, source: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not values:
        raise SettingsError(f"{source}: {raw!r} names nothing (a comma list, e.g. a,b)")
    return values


def _ports(raw: str, source: str) -> tuple[int, ...]:
    from pytest_llmserver.discovery import ScanInputError, parse_ports

    try:
        return parse_ports(raw)
    except ScanInputError as exc:
        raise SettingsError(str(exc).replace("--llm-scan-ports", source, 1)) from None


def _profile(raw: str, source: str) -> str:
    from pytest_llmserver.stress import PROFILES

    if raw not in PROFILES:
        raise SettingsError(f"{source}: {raw!r} is not one of {', '.join(PROFILES)}")
    return raw


def _slos(raw: str, source: str) -> dict[str, float]:
    from pytest_llmserver.stress import parse_slos

    try:
        return parse_slos(raw)
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from None


def _arrival(raw: str, source: str) -> str:
    if raw not in ("constant", "poisson", "gamma"):
        raise SettingsError(f"{source}: {raw!r} is not one of constant, poisson, gamma")
    return raw


def _stress_tier(raw: str, source: str) -> str:
    tiers = ("all", "quick", "base", "hard", "brutal", "realistic", "extreme")
    if raw not in tiers:
        raise SettingsError(f"{source}: {raw!r} is not one of {', '.join(tiers)}")
    return raw


@dataclass(frozen=True)
class OptionSpec:
    """One option: ``--llm-<name>``, ini key ``llm_<name>``, env ``LLM_<NAME>``."""

    name: str
    help: str
    parse: Callable[[str, str], Any]
    default: str | None = None
    metavar: str = "VALUE"
    action: Literal["store", "append", "store_true", "optional"] = "store"

    @property
    def flag(self) -> str:
        return "--llm-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "llm_" + self.name

    @property
    def env(self) -> str:
        return "LLM_" + self.name.upper()


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "server",
        "server to test: auto (discover), URL, HOST:PORT, sim (built-in simulator) "
        "or local (llama.cpp + SmolLM2)",
        _server,
        metavar="auto|URL|HOST:PORT|sim|local",
    ),
    OptionSpec(
        "model",
        "model name (exact or unique prefix), first, or all (run the suites once per model)",
        _model,
        metavar="NAME|first|all",
    ),
    OptionSpec(
        "api", "protocol: auto (probe), openai or ollama", _api, "auto", "auto|openai|ollama"
    ),
    OptionSpec("api_key", "API key sent as a bearer token; never written to reports", _text),
    OptionSpec("timeout", "per-request deadline in seconds", _positive_seconds, "300", "SECONDS"),
    OptionSpec("logs", "directory for reports", _text, "logs", "DIR"),
    OptionSpec(
        "concurrency", "requests / tool-bench tasks in flight at once", _positive_int, "4", "N"
    ),
    OptionSpec("repeat", "tool-bench trials per task (pass@1 and pass^k)", _positive_int, "1", "K"),
    OptionSpec("max_tokens", "limit on generated tokens per model turn", _positive_int, None, "N"),
    OptionSpec(
        "seed", "seed of every random choice (arrivals, prompts)", _non_negative_int, "0", "N"
    ),
    OptionSpec(
        "warmup", "uncounted warm-up requests before each stress mode", _non_negative_int, "1", "N"
    ),
    OptionSpec("sweep", "throughput: concurrency values to sweep", _int_list, "1,4", "C1,C2,..."),
    OptionSpec("total", "throughput / consistency: requests per run", _positive_int, "16", "N"),
    OptionSpec("rpm", "sustained: requests per minute", _positive_float, "120", "RPM"),
    OptionSpec(
        "arrival", "sustained: constant|poisson|gamma arrivals", _arrival, "constant", "NAME"
    ),
    OptionSpec(
        "burstiness", "sustained, gamma: CV of the gaps (>1 bursty)", _positive_float, "1", "CV"
    ),
    OptionSpec(
        "duration", "sustained / realistic users: seconds", _positive_seconds, "10", "SECONDS"
    ),
    OptionSpec(
        "token_sizes", "token stress: prompt sizes in tokens", _int_list, "256,1024", "N1,N2,..."
    ),
    OptionSpec(
        "arrival_rate", "realistic users: sessions per second", _positive_float, "0.5", "RATE"
    ),
    OptionSpec(
        "session_profile", "realistic users: one-shot|short|long|mixed", _profile, "mixed", "NAME"
    ),
    OptionSpec(
        "slo", "SLOs that fail a stress test, e.g. ttft_p95:0.8,e2e_p99:5", _slos, None, "SLOS"
    ),
    OptionSpec("stress_tier", "tool bench under load: tier or all", _stress_tier, "quick", "TIER"),
    OptionSpec(
        "scan_subnet",
        "auto: subnet to scan instead of the host's own (repeatable)",
        _subnets,
        metavar="CIDR",
        action="append",
    ),
    OptionSpec("scan_ports", "auto: ports to probe, e.g. 11434,8000-8010", _ports, None, "PORTS"),
    OptionSpec(
        "scan_max_hosts", "auto: most hosts one subnet may hold", _positive_int, "1024", "N"
    ),
    OptionSpec(
        "scan_loopback_only",
        "auto: never scan beyond 127.0.0.0/8 (for test machines)",
        _flag,
        action="store_true",
    ),
    OptionSpec(
        "no_cache", "auto: neither read nor write the discovery cache", _flag, action="store_true"
    ),
    OptionSpec("cache_dir", "directory of the discovery cache", _text, None, "DIR"),
    OptionSpec(
        "baseline",
        "compare with the baseline: auto (llm-baselines/<kind>--<model>.json), a dir or a file",
        _baseline,
        None,
        "auto|PATH",
    ),
    OptionSpec(
        "save_baseline",
        "save this run as the baseline (default dir llm-baselines; use --llm-save-baseline=PATH)",
        _baseline,
        None,
        "PATH",
        action="optional",
    ),
    OptionSpec(
        "regression_threshold",
        "compare: smallest relative change that counts as a regression",
        _fraction,
        "0.2",
        "FRACTION",
    ),
    OptionSpec(
        "noise_floor_ms",
        "compare: smallest absolute latency change that counts, in ms",
        _non_negative_float,
        "5",
        "MS",
    ),
    OptionSpec(
        "judge_model",
        "arenas: the judge model (default: the model under test, which is biased; "
        "with --llm-server=sim: judge-fair)",
        _text,
        None,
        "NAME",
    ),
    OptionSpec(
        "arena_prompts",
        "prompt arena: system prompts to compare (keys of SYSTEM_PROMPTS)",
        _names,
        "plain,chain_of_thought,concise",
        "KEY,KEY,...",
    ),
    OptionSpec(
        "arena_questions",
        "arenas: how many built-in questions (N), or their ids (id,id,...)",
        _names,
        "3",
        "N|ID,...",
    ),
    OptionSpec(
        "arena_models",
        "model arena: 2-6 models, NAME or NAME@URL (default: up to 4 the server lists)",
        _names,
        None,
        "NAME,NAME@URL,...",
    ),
    OptionSpec(
        "save_transcripts",
        "save tool-bench and arena conversations as JSON under <run>/transcripts",
        _flag,
        action="store_true",
    ),
    OptionSpec(
        "sim_slowdown",
        "sim: multiply the simulator's TTFT and token gap (e.g. 1.3 to rehearse a regression)",
        _positive_float,
        "1",
        "FACTOR",
    ),
    OptionSpec(
        "shards",
        "stress: split each mode's load over N shards (xdist workers run them together)",
        _positive_int,
        "1",
        "N",
    ),
    OptionSpec(
        "list",
        "discover servers, print them (kind, models, latency) and exit",
        _flag,
        action="store_true",
    ),
)


@dataclass(frozen=True)
class Settings:
    """Everything a run was configured with."""

    server: ServerSpec | None = None
    model: str | None = None
    api: ApiChoice = "auto"
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 300.0
    logs_dir: Path = Path("logs")
    concurrency: int = 4
    repeat: int = 1
    max_tokens: int | None = None
    seed: int = 0
    warmup: int = 1
    sweep: tuple[int, ...] = (1, 4)
    total: int = 16
    rpm: float = 120.0
    arrival: str = "constant"
    burstiness: float = 1.0
    duration_s: float = 10.0
    token_sizes: tuple[int, ...] = (256, 1024)
    arrival_rate: float = 0.5
    session_profile: str = "mixed"
    slos: dict[str, float] = field(default_factory=dict)
    stress_tier: str = "quick"
    scan_subnets: tuple[str, ...] = ()
    scan_ports: tuple[int, ...] | None = None
    scan_max_hosts: int = 1024
    scan_loopback_only: bool = False
    no_cache: bool = False
    cache_dir: Path | None = None
    list_servers: bool = False
    baseline: str | None = None
    save_baseline: str | None = None
    regression_threshold: float = 0.2
    noise_floor_s: float = 0.005
    shards: int = 1
    sim_slowdown: float = 1.0
    judge_model: str | None = None
    arena_prompts: tuple[str, ...] = ("plain", "chain_of_thought", "concise")
    arena_questions: tuple[str, ...] = ("3",)
    arena_models: tuple[str, ...] = ()
    save_transcripts: bool = False

    @classmethod
    def resolve(
        cls,
        cli: Mapping[str, str | None],
        env: Mapping[str, str],
        ini: Mapping[str, str | None],
    ) -> Settings:
        """Resolve every option by name from CLI, then environment, then ini, then default."""
        values: dict[str, Any] = {}
        for spec in OPTIONS:
            raw, source = cli.get(spec.name), spec.flag
            if raw is None and env.get(spec.env):
                raw, source = env[spec.env], f"environment variable {spec.env}"
            if raw is None and ini.get(spec.name):
                raw, source = ini[spec.name], f"ini option {spec.ini}"
            if raw is None:
                raw, source = spec.default, spec.flag
            values[spec.name] = None if raw is None else spec.parse(raw, source)
        return cls(
            server=values["server"],
            model=values["model"],
            api=values["api"],
            api_key=values["api_key"],
            timeout_s=values["timeout"],
            logs_dir=Path(values["logs"]),
            concurrency=values["concurrency"],
            repeat=values["repeat"],
            max_tokens=values["max_tokens"],
            seed=values["seed"],
            warmup=values["warmup"],
            sweep=values["sweep"],
            total=values["total"],
            rpm=values["rpm"],
            arrival=values["arrival"],
            burstiness=values["burstiness"],
            duration_s=values["duration"],
            token_sizes=values["token_sizes"],
            arrival_rate=values["arrival_rate"],
            session_profile=values["session_profile"],
            slos=values["slo"] or {},
            stress_tier=values["stress_tier"],
            scan_subnets=values["scan_subnet"] or (),
            scan_ports=values["scan_ports"],
            scan_max_hosts=values["scan_max_hosts"],
            scan_loopback_only=bool(values["scan_loopback_only"]),
            no_cache=bool(values["no_cache"]),
            cache_dir=None if values["cache_dir"] is None else Path(values["cache_dir"]),
            list_servers=bool(values["list"]),
            baseline=values["baseline"],
            save_baseline=values["save_baseline"],
            regression_threshold=values["regression_threshold"],
            noise_floor_s=values["noise_floor_ms"] / 1000.0,
            shards=values["shards"],
            sim_slowdown=values["sim_slowdown"],
            judge_model=values["judge_model"],
            arena_prompts=values["arena_prompts"],
            arena_questions=values["arena_questions"],
            arena_models=values["arena_models"] or (),
            save_transcripts=bool(values["save_transcripts"]),
        )

    def public_dict(self) -> dict[str, Any]:
        """Settings for reports, with the API key left out."""
        return {
            "server": None if self.server is None else self.server.url or self.server.mode,
            "model": self.model,
            "api": self.api,
            "api_key": "set" if self.api_key else None,
            "timeout_s": self.timeout_s,
            "logs_dir": str(self.logs_dir),
            "concurrency": self.concurrency,
            "repeat": self.repeat,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "warmup": self.warmup,
            "sweep": list(self.sweep),
            "total": self.total,
            "rpm": self.rpm,
            "arrival": self.arrival,
            "burstiness": self.burstiness,
            "duration_s": self.duration_s,
            "token_sizes": list(self.token_sizes),
            "arrival_rate": self.arrival_rate,
            "session_profile": self.session_profile,
            "slos": self.slos,
            "stress_tier": self.stress_tier,
            "scan_subnets": list(self.scan_subnets),
            "scan_ports": None if self.scan_ports is None else list(self.scan_ports),
            "scan_max_hosts": self.scan_max_hosts,
            "baseline": self.baseline,
            "regression_threshold": self.regression_threshold,
            "noise_floor_s": self.noise_floor_s,
            "shards": self.shards,
            "sim_slowdown": self.sim_slowdown,
            "judge_model": self.judge_model,
            "arena_prompts": list(self.arena_prompts),
            "arena_questions": list(self.arena_questions),
            "arena_models": list(self.arena_models),
        }
