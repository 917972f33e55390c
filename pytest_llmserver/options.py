"""Every ``--llm-*`` option, named once: its flag, ini key, environment variable, settings
group and field (the name plus its unit), parser, default and whether it is a secret.

Vocabularies (session profiles, arrival processes, tiers, SLO names, subnet and port forms)
come from the engines that define them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pytest_llmserver.discovery import ScanInputError, parse_ports, parse_subnet
from pytest_llmserver.stress import PROFILES, ArrivalProcess, parse_slos
from pytest_llmserver.toolbench import TIERS

ServerMode = Literal["url", "sim", "local", "auto"]
ApiChoice = Literal["auto", "openai", "ollama"]
Group = Literal["target", "run", "discovery", "stress", "gate", "arena"]
Parser = Callable[[str, str], Any]


class SettingsError(ValueError):
    """A bad option value; the message names the option and the accepted form."""


@dataclass(frozen=True)
class ServerSpec:
    """What ``--llm-server`` asked for: a URL, or the ``sim`` / ``local`` / ``auto`` keyword."""

    mode: ServerMode
    url: str | None = None


# --- parsers: (raw text, where it came from) -> value; errors name the source ---------------


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


def _text(raw: str, source: str) -> str:
    return raw


def _non_empty(what: str) -> Parser:
    def parse(raw: str, source: str) -> str:
        value = raw.strip()
        if not value:
            raise SettingsError(f"{source}: empty (pass {what})")
        return value

    return parse


def _one_of(choices: tuple[str, ...], *, lower: bool = False) -> Parser:
    def parse(raw: str, source: str) -> str:
        value = raw.strip().lower() if lower else raw
        if value not in choices:
            raise SettingsError(f"{source}: {raw!r} is not one of {', '.join(choices)}")
        return value

    return parse


def _float_in(accept: Callable[[float], bool], form: str) -> Parser:
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


def _whole_number(minimum: int, example: int) -> Parser:
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


_seconds = _float_in(lambda v: 0.0 < v < math.inf, "a positive number of seconds (e.g. 120)")
_positive = _float_in(lambda v: 0.0 < v < math.inf, "a positive number (e.g. 2.5)")
_fraction = _float_in(lambda v: 0.0 <= v < 10.0, "a fraction >= 0 (e.g. 0.1 for 10%)")
_non_negative = _float_in(lambda v: 0.0 <= v < math.inf, "a number >= 0 (e.g. 5)")
_count = _whole_number(1, 4)
_count0 = _whole_number(0, 1)


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


def _names(raw: str, source: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not values:
        raise SettingsError(f"{source}: {raw!r} names nothing (a comma list, e.g. a,b)")
    return values


def _flag(raw: str, source: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{source}: {raw!r} is not a yes/no value (1, true, 0, false)")


def _subnets(raw: str, source: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in raw.replace(" ", ",").split(",") if part.strip())
    for value in values:
        try:
            parse_subnet(value, max_hosts=2**128)  # the cap is checked once it is known
        except ScanInputError as exc:
            raise SettingsError(str(exc).replace("--llm-scan-subnet", source, 1)) from None
    return values


def _ports(raw: str, source: str) -> tuple[int, ...]:
    try:
        return parse_ports(raw)
    except ScanInputError as exc:
        raise SettingsError(str(exc).replace("--llm-scan-ports", source, 1)) from None


def _slos(raw: str, source: str) -> dict[str, float]:
    try:
        return parse_slos(raw)
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from None


# --- the specs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    """One option: ``--llm-<name>``, ini ``llm_<name>``, env ``LLM_<NAME>``, and the settings
    field ``<group>.<name>[_<unit>]``."""

    name: str
    group: Group
    help: str
    parse: Parser
    default: str | None = None
    metavar: str = "VALUE"
    unit: str = ""
    secret: bool = False
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

    @property
    def field(self) -> str:
        """The settings field: the name with its unit appended (``timeout`` -> ``timeout_s``)."""
        suffix = f"_{self.unit}"
        return self.name if not self.unit or self.name.endswith(suffix) else self.name + suffix


_STRESS_TIERS = ("all", *TIERS)

OPTIONS: tuple[OptionSpec, ...] = (
    # target: which server and model, and how to talk to it
    OptionSpec(
        "server",
        "target",
        "server to test: auto (discover), URL, HOST:PORT, sim (built-in simulator) "
        "or local (llama.cpp + SmolLM2)",
        parse_server_spec,
        metavar="auto|URL|HOST:PORT|sim|local",
    ),
    OptionSpec(
        "model",
        "target",
        "model name (exact or unique prefix), first, or all (run the suites once per model)",
        _non_empty("NAME, first or all"),
        metavar="NAME|first|all",
    ),
    OptionSpec(
        "api",
        "target",
        "protocol: auto (probe), openai or ollama",
        _one_of(get_args(ApiChoice), lower=True),
        "auto",
        "auto|openai|ollama",
    ),
    OptionSpec(
        "api_key",
        "target",
        "API key sent as a bearer token; never written to reports",
        _text,
        secret=True,
    ),
    OptionSpec("timeout", "target", "per-request deadline", _seconds, "300", "SECONDS", "s"),
    OptionSpec(
        "sim_slowdown",
        "target",
        "sim: multiply the simulator's TTFT and token gap (e.g. 1.3 to rehearse a regression)",
        _positive,
        "1",
        "FACTOR",
    ),
    # run: what every part of a run shares
    OptionSpec("logs", "run", "directory for reports", _text, "logs", "DIR"),
    OptionSpec(
        "concurrency", "run", "requests / tool-bench tasks in flight at once", _count, "4", "N"
    ),
    OptionSpec("max_tokens", "run", "limit on generated tokens per model turn", _count, None, "N"),
    OptionSpec("seed", "run", "seed of every random choice (arrivals, prompts)", _count0, "0", "N"),
    OptionSpec("repeat", "run", "tool-bench trials per task (pass@1 and pass^k)", _count, "1", "K"),
    OptionSpec(
        "save_transcripts",
        "run",
        "save tool-bench and arena conversations as JSON under <run>/transcripts",
        _flag,
        action="store_true",
    ),
    # discovery
    OptionSpec(
        "scan_subnet",
        "discovery",
        "auto: subnet to scan instead of the host's own (repeatable)",
        _subnets,
        metavar="CIDR",
        action="append",
    ),
    OptionSpec(
        "scan_ports",
        "discovery",
        "auto: ports to probe, e.g. 11434,8000-8010",
        _ports,
        None,
        "PORTS",
    ),
    OptionSpec(
        "scan_max_hosts", "discovery", "auto: most hosts one subnet may hold", _count, "1024", "N"
    ),
    OptionSpec(
        "scan_loopback_only",
        "discovery",
        "auto: never scan beyond 127.0.0.0/8 (for test machines)",
        _flag,
        action="store_true",
    ),
    OptionSpec(
        "no_cache",
        "discovery",
        "auto: neither read nor write the discovery cache",
        _flag,
        action="store_true",
    ),
    OptionSpec("cache_dir", "discovery", "directory of the discovery cache", _text, None, "DIR"),
    OptionSpec(
        "list",
        "discovery",
        "discover servers, print them (kind, models, latency) and exit",
        _flag,
        action="store_true",
    ),
    # stress
    OptionSpec(
        "warmup", "stress", "uncounted warm-up requests before each stress mode", _count0, "1", "N"
    ),
    OptionSpec(
        "sweep", "stress", "throughput: concurrency values to sweep", _int_list, "1,4", "C1,C2,..."
    ),
    OptionSpec("total", "stress", "throughput / consistency: requests per run", _count, "16", "N"),
    OptionSpec("rpm", "stress", "sustained: requests per minute", _positive, "120", "RPM"),
    OptionSpec(
        "arrival",
        "stress",
        "sustained: constant|poisson|gamma arrivals",
        _one_of(get_args(ArrivalProcess)),
        "constant",
        "NAME",
    ),
    OptionSpec(
        "burstiness", "stress", "sustained, gamma: CV of the gaps (>1 bursty)", _positive, "1", "CV"
    ),
    OptionSpec(
        "duration",
        "stress",
        "sustained / realistic users: run length",
        _seconds,
        "10",
        "SECONDS",
        "s",
    ),
    OptionSpec(
        "token_sizes",
        "stress",
        "token stress: prompt sizes in tokens",
        _int_list,
        "256,1024",
        "N1,N2,...",
    ),
    OptionSpec(
        "arrival_rate", "stress", "realistic users: sessions per second", _positive, "0.5", "RATE"
    ),
    OptionSpec(
        "session_profile",
        "stress",
        "realistic users: one-shot|short|long|mixed",
        _one_of(tuple(PROFILES)),
        "mixed",
        "NAME",
    ),
    OptionSpec(
        "slo",
        "stress",
        "SLOs that fail a stress test, e.g. ttft_p95:0.8,e2e_p99:5",
        _slos,
        "",
        "SLOS",
    ),
    OptionSpec(
        "stress_tier",
        "stress",
        "tool bench under load: tier or all",
        _one_of(_STRESS_TIERS),
        "quick",
        "TIER",
    ),
    OptionSpec(
        "shards",
        "stress",
        "split each mode's load over N shards (xdist workers run them together)",
        _count,
        "1",
        "N",
    ),
    # gate: baselines and the regression check
    OptionSpec(
        "baseline",
        "gate",
        "compare with the baseline: auto (llm-baselines/<kind>--<model>.json), a dir or a file",
        _non_empty("auto, a directory or a .json file"),
        None,
        "auto|PATH",
    ),
    OptionSpec(
        "save_baseline",
        "gate",
        "save this run as the baseline (default dir llm-baselines; use --llm-save-baseline=PATH)",
        _non_empty("auto, a directory or a .json file"),
        None,
        "PATH",
        action="optional",
    ),
    OptionSpec(
        "regression_threshold",
        "gate",
        "smallest relative change that counts as a regression",
        _fraction,
        "0.2",
        "FRACTION",
    ),
    OptionSpec(
        "noise_floor_ms",
        "gate",
        "smallest absolute latency change that counts",
        _non_negative,
        "5",
        "MS",
        "ms",
    ),
    # arena
    OptionSpec(
        "judge_model",
        "arena",
        "the judge model (default: the model under test, which is biased; "
        "with --llm-server=sim: judge-fair)",
        _text,
        None,
        "NAME",
    ),
    OptionSpec(
        "arena_prompts",
        "arena",
        "prompt arena: system prompts to compare (keys of SYSTEM_PROMPTS)",
        _names,
        "plain,chain_of_thought,concise",
        "KEY,KEY,...",
    ),
    OptionSpec(
        "arena_questions",
        "arena",
        "how many built-in questions (N), or their ids (id,id,...)",
        _names,
        "3",
        "N|ID,...",
    ),
    OptionSpec(
        "arena_models",
        "arena",
        "model arena: 2-6 models, NAME or NAME@URL (default: up to 4 the server lists)",
        _names,
        None,
        "NAME,NAME@URL,...",
    ),
)
