"""Parsers of option values: (raw text, where it came from) -> value; every error names the
option (or environment variable, or ini key) and the accepted form."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pytest_llmserver.discovery import ScanInputError, parse_ports, parse_subnet
from pytest_llmserver.stress import parse_slos

if TYPE_CHECKING:
    from pytest_llmserver.stress import TokenLengths

ServerMode = Literal["url", "sim", "local", "auto"]
Parser = Callable[[str, str], Any]


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


def text(raw: str, source: str) -> str:
    return raw


def non_empty(what: str) -> Parser:
    def parse(raw: str, source: str) -> str:
        value = raw.strip()
        if not value:
            raise SettingsError(f"{source}: empty (pass {what})")
        return value

    return parse


def one_of(choices: tuple[str, ...], *, lower: bool = False) -> Parser:
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


seconds = _float_in(lambda v: 0.0 < v < math.inf, "a positive number of seconds (e.g. 120)")
positive = _float_in(lambda v: 0.0 < v < math.inf, "a positive number (e.g. 2.5)")
fraction = _float_in(lambda v: 0.0 <= v < 10.0, "a fraction >= 0 (e.g. 0.1 for 10%)")
non_negative = _float_in(lambda v: 0.0 <= v < math.inf, "a number >= 0 (e.g. 5)")
count = _whole_number(1, 4)
count0 = _whole_number(0, 1)


def count_or_auto(raw: str, source: str) -> int | None:
    """``auto`` (None: decided at run time) or a whole number >= 1."""
    if raw.strip().lower() == "auto":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{source}: {raw!r} is not auto or a whole number >= 1 (e.g. 2)")
    return value


_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


def ipv4_host(raw: str, source: str) -> str:
    """An IPv4 address or a host name (the meeting service speaks IPv4)."""
    value = raw.strip()
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        pass
    if _HOST_NAME.fullmatch(value) and not value.replace(".", "").isdigit():
        return value
    raise SettingsError(f"{source}: {raw!r} is not an IPv4 address or a host name (e.g. 192.0.2.7)")


def int_list(raw: str, source: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise SettingsError(
            f"{source}: {raw!r} is not a comma list of whole numbers >= 1 (e.g. 1,4,16)"
        )
    return values


def names(raw: str, source: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not values:
        raise SettingsError(f"{source}: {raw!r} names nothing (a comma list, e.g. a,b)")
    return values


def flag(raw: str, source: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{source}: {raw!r} is not a yes/no value (1, true, 0, false)")


def subnets(raw: str, source: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in raw.replace(" ", ",").split(",") if part.strip())
    for value in values:
        try:
            parse_subnet(value, max_hosts=2**128)  # the cap is checked once it is known
        except ScanInputError as exc:
            raise SettingsError(str(exc).replace("--llm-scan-subnet", source, 1)) from None
    return values


def ports(raw: str, source: str) -> tuple[int, ...]:
    try:
        return parse_ports(raw)
    except ScanInputError as exc:
        raise SettingsError(str(exc).replace("--llm-scan-ports", source, 1)) from None


def slos(raw: str, source: str) -> dict[str, float]:
    try:
        return parse_slos(raw)
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from None


top_p = _float_in(lambda v: 0.0 < v <= 1.0, "a probability mass in (0, 1] (e.g. 0.9)")


def json_object(raw: str, source: str) -> dict[str, Any]:
    """A JSON object, none of whose keys the client decides (``model``, ``messages``,
    ``stream``)."""
    from pytest_llmserver.client import CLIENT_KEYS

    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{source}: is not valid JSON: line {exc.lineno} column {exc.colno} ({exc.msg})"
        ) from None
    if not isinstance(value, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
        raise SettingsError(
            f"{source}: not a JSON object (got {kind.get(type(value), 'a number')})"
        )
    taken = sorted(CLIENT_KEYS & set(value))
    if taken:
        raise SettingsError(
            f"{source}: {taken[0]!r} is the client's to set "
            "(model, messages and stream cannot be replaced)"
        )
    return value


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CLIENT_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def headers(raw: str, source: str) -> dict[str, str]:
    """``NAME:VALUE`` headers, comma or newline separated (a comma piece without a colon
    continues the value before it); a name given twice keeps its last value."""
    pairs: list[list[str]] = []
    for line in raw.splitlines():
        for piece in line.split(","):
            name, colon, value = piece.partition(":")
            if colon and _TOKEN.fullmatch(name.strip()):
                pairs.append([name.strip(), value.strip()])
            elif pairs and piece.strip() and not colon:
                pairs[-1][1] += "," + piece
            elif piece.strip():
                raise SettingsError(
                    f"{source}: {piece.strip()[:60]!r} is not NAME:VALUE "
                    "(e.g. X-Request-Source:bench)"
                )
    out: dict[str, str] = {}
    for name, value in pairs:
        if name.lower() in _CLIENT_HEADERS:
            raise SettingsError(f"{source}: {name} is set by the client's transport")
        if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value):
            raise SettingsError(f"{source}: the value of {name} holds a control character")
        matching = [key for key in out if key.lower() == name.lower()]
        for key in matching:
            del out[key]
        out[name] = value.strip()
    return out


def dataset(raw: str, source: str) -> str:
    """A dataset file (or ``bundled``), read and checked now so a bad one stops the run before
    the first test; the value is the absolute path (worker processes may run elsewhere)."""
    from pytest_llmserver.stress import BUNDLED_DATASET, load_dataset

    value = raw.strip()
    if value.lower() == BUNDLED_DATASET:
        return BUNDLED_DATASET
    path = str(Path(value).expanduser().absolute()) if value else value
    try:
        load_dataset(path)
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from None
    return path


def token_lengths(raw: str, source: str) -> TokenLengths:
    """``MEAN[:STDDEV[:MIN:MAX]]`` in tokens, each length at least 1."""
    from pytest_llmserver.stress import TokenLengths

    try:
        return TokenLengths.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from None
