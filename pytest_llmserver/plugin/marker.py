"""``@pytest.mark.llm_stress(mode=..., **kwargs)``: a user's own stress test in one decorator.

``parse_marker`` checks a marker's arguments (pure: no pytest, no server) and gives a
``StressSpec``: the mode's arguments, their defaults taken from the run's settings exactly as
the built-in tests take them, and the workload options that override the run's for that test
only. Every fault is a ``MarkerError`` whose text is one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmserver._util import slug

if TYPE_CHECKING:
    from pytest_llmserver.settings import Settings
    from pytest_llmserver.stress import StressTester

USAGE = 'keyword arguments only, e.g. @pytest.mark.llm_stress(mode="throughput", concurrency=8)'

Check = Callable[[Any], Any]
"""A value's check: the value as the run takes it, or ``ValueError`` saying what is wrong."""


class MarkerError(ValueError):
    """A bad ``llm_stress`` marker; the text is one line."""


class _Form(ValueError):
    """A value not of the form its argument takes; the text names the form."""


def _whole(minimum: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Form(f"a whole number >= {minimum}")
        return value

    return check


def _number(accept: Callable[[float], bool], form: str) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Form(form)
        if not (math.isfinite(value) and accept(float(value))):
            raise _Form(form)
        return float(value)

    return check


def _or_none(check: Check) -> Check:
    def or_none(value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value)
        except _Form as exc:
            raise _Form(f"{exc} or None") from None

    return or_none


def _one_of(choices: Callable[[], Sequence[str]]) -> Check:
    def check(value: Any) -> str:
        known = choices()
        if not isinstance(value, str) or value not in known:
            raise _Form(f"one of {', '.join(known)}")
        return value

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Form("a non-empty string")
    return value


def _sizes(value: Any) -> tuple[int, ...]:
    form = _Form("a non-empty list of whole numbers >= 1, e.g. [256, 1024]")
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise form
    try:
        return tuple(_count(size) for size in value)
    except _Form:
        raise form from None


def _slos(value: Any) -> dict[str, float]:
    from pytest_llmserver.stress import parse_slos

    if not isinstance(value, str):
        raise _Form('a string like --llm-slo, e.g. "ttft_p95:0.8,e2e_p99:5"')
    return parse_slos(value)


def _token_length(value: Any) -> str:
    """``MEAN[:STDDEV[:MIN:MAX]]`` text or a whole number, checked now, passed on as text."""
    from pytest_llmserver.stress import TokenLengths

    form = "MEAN[:STDDEV[:MIN:MAX]] in tokens"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _Form(form)
    try:
        return TokenLengths.parse(value).text()
    except ValueError as exc:
        raise _Form(f"{form} ({exc})") from None


def _profiles() -> Sequence[str]:
    from pytest_llmserver.stress import PROFILES

    return tuple(PROFILES)


def _arrivals() -> Sequence[str]:
    from typing import get_args

    from pytest_llmserver.stress import ArrivalProcess

    return get_args(ArrivalProcess)


def _tiers() -> Sequence[str]:
    from pytest_llmserver.toolbench import TIERS

    return ("all", *TIERS)


_count = _whole(1)
_positive = _number(lambda v: v > 0, "a positive number")


@dataclass(frozen=True)
class Arg:
    """One mode argument: the mode method's parameter it fills, its check, and its default
    from the run's settings."""

    param: str
    check: Check
    default: Callable[[Settings], Any]


@dataclass(frozen=True)
class Mode:
    """A stress mode as a marker runs it: its ``StressTester`` method and arguments."""

    method: str
    args: dict[str, Arg]


MODES: dict[str, Mode] = {
    "throughput": Mode(
        "run_throughput_test",
        {
            "concurrency": Arg("concurrency", _count, lambda s: s.run.concurrency),
            "total": Arg("total", _count, lambda s: s.stress.total),
        },
    ),
    "sustained": Mode(
        "run_sustained_load_test",
        {
            "rpm": Arg("rpm", _positive, lambda s: s.stress.rpm),
            "duration_s": Arg("duration", _positive, lambda s: s.stress.duration_s),
            "arrival": Arg("arrival", _one_of(_arrivals), lambda s: s.stress.arrival),
            "burstiness": Arg("burstiness", _positive, lambda s: s.stress.burstiness),
        },
    ),
    "consistency": Mode(
        "run_consistency_test",
        {
            "total": Arg("n", _whole(2), lambda s: max(2, s.stress.total)),
            "prompt": Arg("prompt", _text, lambda s: s.stress.prompt),
        },
    ),
    "realistic_user": Mode(
        "run_realistic_user_test",
        {
            "arrival_rate": Arg("arrival_rate", _positive, lambda s: s.stress.arrival_rate),
            "session_profile": Arg(
                "profile", _one_of(_profiles), lambda s: s.stress.session_profile
            ),
            "duration_s": Arg("duration", _positive, lambda s: s.stress.duration_s),
        },
    ),
    "token_stress": Mode(
        "run_token_stress_test",
        {"sizes": Arg("sizes", _sizes, lambda s: s.stress.token_sizes)},
    ),
    "tool_bench": Mode(
        "run_tool_bench_test",
        {
            "tier": Arg("tier", _one_of(_tiers), lambda s: s.stress.stress_tier),
            "concurrency": Arg("concurrency", _count, lambda s: s.run.concurrency),
        },
    ),
}
"""The modes a marker runs, by name, with the keyword arguments each takes."""

WORKLOAD: dict[str, Check] = {
    "max_tokens": _count,
    "temperature": _or_none(_number(lambda v: v >= 0, "a number >= 0")),
    "top_p": _or_none(_number(lambda v: 0 < v <= 1, "a number in (0, 1]")),
    "seed": _whole(0),
    "sampling_seed": _or_none(_whole(0)),
    "dataset": _text,
    "shared_prefix_tokens": _whole(0),
    "warmup": _whole(0),
    "slos": _slos,
    "input_tokens": _token_length,
    "output_tokens": _token_length,
}
"""Workload keyword arguments any mode takes; each overrides the stress option of the same
name (``StressSession.run``'s options) for that test's run only."""


@dataclass(frozen=True)
class StressSpec:
    """A checked ``llm_stress`` marker: the mode, the arguments it was given, and the options
    its run overrides."""

    mode: str
    given: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    def arguments(self, settings: Settings) -> dict[str, Any]:
        """The mode method's keyword arguments: the given ones, the rest from ``settings``."""
        out: dict[str, Any] = {}
        for name, arg in MODES[self.mode].args.items():
            value = self.given[name] if name in self.given else arg.default(settings)
            out[arg.param] = list(value) if isinstance(value, tuple) else value
        return out

    def call(self, settings: Settings) -> Callable[[StressTester], Any]:
        """The mode call ``StressSession.run`` takes (one plain method call, so the load can
        be split over worker processes)."""
        method, kwargs = MODES[self.mode].method, self.arguments(settings)

        def mode_call(tester: StressTester) -> Any:
            return getattr(tester, method)(**kwargs)

        return mode_call

    def run_id(self, test_name: str) -> str:
        """The run's id: the test's name (the mode is in the report's name already)."""
        return slug(test_name, "-", max_len=80, default=self.mode)


def valid_names(mode: str) -> list[str]:
    """The keyword arguments ``mode`` takes besides ``mode``."""
    return [*MODES[mode].args, *WORKLOAD]


def parse_marker(
    args: Sequence[Any], kwargs: Mapping[str, Any], base_dir: Path | None = None
) -> StressSpec:
    """Check a marker's arguments; a relative ``dataset`` is found from ``base_dir`` (the test
    file's folder). Raises ``MarkerError`` (one line) on any fault."""
    if args:
        raise MarkerError(f"{len(args)} positional argument(s) given: it takes {USAGE}")
    mode = kwargs.get("mode")
    if mode is None:
        raise MarkerError(f"needs mode=, one of {', '.join(MODES)}")
    if not isinstance(mode, str) or mode not in MODES:
        raise MarkerError(f"mode={mode!r} is not one of {', '.join(MODES)}")
    given: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name == "mode":
            continue
        arg = MODES[mode].args.get(name)
        check = arg.check if arg is not None else WORKLOAD.get(name)
        if check is None:
            valid = ", ".join(valid_names(mode))
            raise MarkerError(f"mode={mode!r} takes no {name}= (it takes: {valid})")
        try:
            checked = check(value)
        except _Form as exc:
            raise MarkerError(f"{name}={value!r} is not {exc}") from None
        except ValueError as exc:
            raise MarkerError(f"{name}={value!r}: {exc}") from None
        if arg is not None:
            given[name] = checked
        elif name == "dataset":
            overrides[name] = _dataset(checked, base_dir)
        else:
            overrides[name] = checked
    return StressSpec(mode, given, overrides)


def _dataset(value: str, base_dir: Path | None) -> str:
    """The dataset's path (``bundled`` kept), read and checked now."""
    from pytest_llmserver.stress import BUNDLED_DATASET, load_dataset

    if value.strip().lower() == BUNDLED_DATASET:
        return BUNDLED_DATASET
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        load_dataset(path)
    except ValueError as exc:
        raise MarkerError(f"dataset={value!r}: {exc}") from None
    return str(path.absolute())
