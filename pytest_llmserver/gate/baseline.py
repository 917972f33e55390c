"""Baselines: a run's figures and per-request samples saved per (server kind, model), and the
comparison of a later run with them.

A baseline file (schema ``pytest-llmserver/baseline``, ``schema_version`` 1) holds the model
fingerprint, the options, per stress test ``{mode, id, summary, samples{metric: [values]}}``
and the tool bench's per-task trial outcomes ``{task_id: {passed_all, passes, trials}}`` (and
``trial_passed``, each trial's outcome, when the recorder hands it on): what the paired
pass-rate test (``gate.paired``) needs for any number of trials per task.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmserver._util import atomic_write
from pytest_llmserver.gate.compare import (
    MetricComparison,
    PassRateComparison,
    TaskTransitions,
    Thresholds,
    compare_samples,
    task_transitions,
)
from pytest_llmserver.gate.fingerprint import ModelFingerprint
from pytest_llmserver.gate.paired import PairedPassRates, compare_paired
from pytest_llmserver.stress import read_records

SCHEMA = "pytest-llmserver/baseline"
SCHEMA_VERSION = 1
DEFAULT_DIR = Path("llm-baselines")
MAX_SAMPLES = 5000
# (metric, statistic, unit, higher is better): what a stress test is compared on.
COMPARED: tuple[tuple[str, str, str, bool], ...] = (
    ("ttft_s", "p50", "s", False),
    ("ttft_s", "p95", "s", False),
    ("e2e_s", "p50", "s", False),
    ("e2e_s", "p95", "s", False),
    ("itl_s", "p50", "s", False),
    ("decode_tps", "p50", "tok/s", True),
)


class BaselineError(Exception):
    """The baseline cannot be used; the message says which file and why, in one line."""


@dataclass
class Baseline:
    """A loaded baseline."""

    path: Path
    fingerprint: ModelFingerprint
    run_id: str
    stress: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)


def baseline_file(location: Path, fingerprint: ModelFingerprint) -> Path:
    """``location`` itself when it names a ``.json`` file, else ``location/<key>.json``."""
    if location.suffix == ".json":
        return location
    return location / f"{fingerprint.key}.json"


def samples_from_records(path: Path) -> dict[str, list[float]]:
    """Per-request samples of the compared metrics from a JSONL records file (successful,
    non-warm-up requests; inter-token gaps flattened), each thinned to ``MAX_SAMPLES``."""
    columns: dict[str, list[float]] = {metric: [] for metric, *_ in COMPARED}
    for record in read_records(path, skip_invalid=True):
        if record.get("warmup") or not record.get("ok"):
            continue
        for metric in columns:
            value = record.get(metric)
            values = value if isinstance(value, list) else [value]
            columns[metric] += [
                float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)
            ]
    return {metric: _thin(values) for metric, values in columns.items()}


def _thin(values: list[float]) -> list[float]:
    if len(values) <= MAX_SAMPLES:
        return values
    step = len(values) / MAX_SAMPLES
    return [values[int(i * step)] for i in range(MAX_SAMPLES)]


def baseline_document(
    fingerprint: ModelFingerprint,
    run_id: str,
    plugin_version: str,
    settings: Mapping[str, Any],
    stress: Iterable[Mapping[str, Any]],
    toolbench_tasks: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The baseline file's content; ``stress`` entries carry ``mode``, ``id``, ``summary`` and
    ``samples``."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "plugin_version": plugin_version,
        "fingerprint": fingerprint.to_dict(),
        "settings": dict(settings),
        "stress": [_stress_entry(entry) for entry in stress],
        "toolbench": {"tasks": {k: dict(v) for k, v in toolbench_tasks.items()}},
    }


def _stress_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A stress test's part of a baseline; a capacity search's figure too, when it has one."""
    kept = {k: entry.get(k) for k in ("mode", "id", "summary", "samples")}
    capacity = (entry.get("figures") or {}).get("capacity")
    if capacity is not None:
        kept["capacity"] = capacity
    return kept


def save_baseline(document: Mapping[str, Any], path: Path) -> Path:
    """Write ``document`` to ``path`` atomically."""
    return atomic_write(path, json.dumps(document))


def load_baseline(path: Path) -> Baseline:
    """Read a baseline; a ``BaselineError`` naming the file when it is missing, unreadable,
    not JSON, not a baseline, or of another schema version."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"baseline {path} does not exist (save one with --llm-save-baseline)"
        ) from None
    except OSError as exc:
        raise BaselineError(f"baseline {path} cannot be read: {exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"baseline {path} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise BaselineError(f"baseline {path} is not a pytest-llmserver baseline file")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise BaselineError(
            f"baseline {path} has schema version {doc.get('schema_version')!r}; this version "
            f"reads {SCHEMA_VERSION} (save a new baseline)"
        )
    try:
        fingerprint = ModelFingerprint.from_dict(doc["fingerprint"])
        stress = {(str(e["mode"]), str(e["id"])): e for e in doc.get("stress") or []}
        tasks = dict((doc.get("toolbench") or {}).get("tasks") or {})
    except (KeyError, TypeError) as exc:
        raise BaselineError(
            f"baseline {path} is incomplete ({exc!r} missing or malformed)"
        ) from None
    return Baseline(path, fingerprint, str(doc.get("run_id", "")), stress, tasks)


def model_update(old: ModelFingerprint, new: ModelFingerprint) -> str | None:
    """``"old → new"`` when the model's build or name differs from the baseline's, else None."""
    if (old.model, old.identity) == (new.model, new.identity):
        return None
    return f"{old.describe()} → {new.describe()}"


def compare_stress(
    baseline: Baseline,
    mode: str,
    run_id: str,
    samples: Mapping[str, Sequence[float]],
    thresholds: Thresholds,
) -> list[MetricComparison]:
    """The compared metrics of one stress test against the baseline's same test (empty when the
    baseline has no such test)."""
    entry = baseline.stress.get((mode, run_id))
    if entry is None:
        return []
    base_samples = entry.get("samples") or {}
    return [
        compare_samples(
            metric,
            statistic,
            base_samples.get(metric) or [],
            samples.get(metric) or [],
            unit=unit,
            higher_is_better=higher,
            thresholds=thresholds,
        )
        for metric, statistic, unit, higher in COMPARED
    ]


@dataclass(frozen=True)
class ToolbenchComparison:
    """Task transitions and the pass-rate test of one model's tool bench (the paired test of
    ``gate.paired``; a ``PassRateComparison`` when built by hand)."""

    transitions: TaskTransitions
    pass_rate: PairedPassRates | PassRateComparison

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the pass-rate line included)."""
        return {"transitions": asdict(self.transitions), "pass_rate": self.pass_rate.to_dict()}


def compare_toolbench(
    baseline: Baseline,
    tasks: Mapping[str, Mapping[str, Any]],
    alpha: float,
    thresholds: Thresholds | None = None,
) -> ToolbenchComparison | None:
    """Compare per-task outcomes ``{task_id: {passed_all, passes, trials}}`` (None when the
    baseline has no tool bench). The pass rate is tested task by task over the tasks both runs
    have (``gate.paired.compare_paired``, with the power statement of ``thresholds``)."""
    if not baseline.tasks:
        return None
    thresholds = thresholds or Thresholds()
    transitions = task_transitions(
        {k: bool(v.get("passed_all")) for k, v in baseline.tasks.items()},
        {k: bool(v.get("passed_all")) for k, v in tasks.items()},
    )
    pass_rate = compare_paired(
        baseline.tasks,
        tasks,
        alpha=alpha,
        drop=thresholds.pass_drop,
        target=thresholds.power,
    )
    return ToolbenchComparison(transitions, pass_rate)


def comparison_lines(comparison: ToolbenchComparison) -> list[str]:
    """The pass-rate line, its power statement, then the task groups that are not empty."""
    t = comparison.transitions
    lines = [comparison.pass_rate.line()]
    power = getattr(comparison.pass_rate, "power", None)
    if power is not None:
        lines.append(power.line())
    for label, ids in (
        ("new failures", t.new_failures),
        ("known failures (xfail)", t.known_failures),
        ("newly passing", t.newly_passing),
        ("not in the baseline", t.added),
        ("only in the baseline", t.removed),
    ):
        if ids:
            lines.append(f"{label}: {', '.join(ids)}")
    return lines
