"""Putting a run back together: what an xdist worker hands to the controller, and the entries
that several workers or shards wrote for one test, merged into one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_llmserver.gate import ModelFingerprint
from pytest_llmserver.report import StressEntry, ToolbenchEntry
from pytest_llmserver.stress import (
    TestStats,
    merge_figures,
    merge_records,
    summarize_file,
    suspect_note,
)
from pytest_llmserver.toolbench import partial_summary, tier_summary

if TYPE_CHECKING:
    from pytest_llmserver.run.recorder import RunRecorder


def export(recorder: RunRecorder) -> dict[str, Any]:
    """What a worker hands to the controller: plain JSON types only, as ``workeroutput``
    travels through execnet (numpy scalars and paths are converted)."""
    exported = {
        "results": recorder.results.to_dict(),
        "samples": [[*key, value] for key, value in recorder.samples.items()],
        "fingerprints": [f.to_dict() for f in recorder.fingerprints.values()],
        "gate": recorder.gate.export(),
    }
    plain: dict[str, Any] = json.loads(json.dumps(exported, default=_plain))
    return plain


def absorb(recorder: RunRecorder, exported: Mapping[str, Any]) -> None:
    """Take in a worker's ``export``."""
    recorder.absorbed = True
    recorder.results.merge(exported.get("results") or {})
    for model, mode, run_id, samples in exported.get("samples") or []:
        recorder.samples[(model, mode, run_id)] = samples
    for raw in exported.get("fingerprints") or []:
        fingerprint = ModelFingerprint.from_dict(raw)
        recorder.fingerprints[fingerprint.key] = fingerprint
    recorder.gate.absorb(exported.get("gate") or {})


def _plain(value: object) -> object:
    """JSON form of numpy scalars (their ``item()``) and of anything else (its ``str``)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def merge_toolbench(recorder: RunRecorder) -> None:
    """One tool-bench entry per model from the workers' entries (each worker ran some of
    the tasks), compared with the baseline as a whole."""
    by_model: dict[str, list[ToolbenchEntry]] = {}
    for entry in recorder.results.toolbench:
        by_model.setdefault(entry.model, []).append(entry)
    merged = []
    for model, entries in by_model.items():
        tasks = {t["task_id"]: t for e in entries for t in e.tasks}
        first = entries[0]
        entry = ToolbenchEntry(
            model=model,
            repeat=first.repeat,
            concurrency=first.concurrency,
            wall_s=max(e.wall_s for e in entries),
            summary=[row.to_dict() for row in tier_summary(tasks.values())],
            tasks=list(tasks.values()),
            fingerprint=first.fingerprint,
            diagnostics={
                k: sum(e.diagnostics.get(k, 0) for e in entries) for k in first.diagnostics
            },
            reports=[r for e in entries for r in e.reports],
            charts=[c for e in entries for c in e.charts],
            partial_credit=[row.to_dict() for row in partial_summary(tasks.values())],
        )
        fingerprint = ModelFingerprint.from_dict(entry.fingerprint)
        comparison = recorder.gate.compare_toolbench(fingerprint, tasks)
        if comparison is not None:
            entry.comparison = comparison.to_dict()
            recorder.gate.note_toolbench(model, comparison)
        merged.append(entry)
    recorder.results.toolbench = merged


def merge_shards(recorder: RunRecorder) -> None:
    """Replace each sharded test's shard entries by one entry over their merged records."""
    groups: dict[tuple[str, str, str], list[StressEntry]] = {}
    for entry in recorder.results.stress:
        if int(entry.params.get("shards") or 1) > 1:
            key = (entry.model, entry.mode, str(entry.params.get("shard_group")))
            groups.setdefault(key, []).append(entry)
    run_dir = recorder.run_dir
    for (model, mode, group), entries in groups.items():
        entries.sort(key=lambda e: int(e.params.get("shard") or 0))
        for entry in entries:
            recorder.results.stress.remove(entry)
        first = entries[0]
        records = (run_dir / first.records).with_name(f"stress-{mode}-{group}.jsonl")
        # each shard's origin on the controller's clock (offset measured at the meeting)
        parts = [
            (run_dir / e.records, float(e.t0_unix_s or 0.0) - float(e.params.get("offset_s") or 0))
            for e in entries
        ]
        spread_s = merge_records(parts, records)
        params = {k: v for k, v in first.params.items() if k not in ("shard", "seed", "offset_s")}
        params.update(id=group, shards=len(entries), seeds=[e.params.get("seed") for e in entries])
        params["clock_offsets_s"] = [float(e.params.get("offset_s") or 0.0) for e in entries]
        reports = ", ".join(e.report for e in entries)
        notes = [
            f"merged from {len(entries)} shards ({reports}); "
            f"their measurement starts spread over {spread_s * 1e3:.1f} ms",
            *(
                note
                for e in entries
                for note in e.notes
                if "shard" in note or note.startswith("interrupted")
            ),
        ]
        summary = summarize_file(records, recorder.settings.stress.slo or None)
        suspect = suspect_note(summary)
        if suspect is not None:
            notes.append(suspect)
        stats = TestStats(
            mode=mode,
            params=params,
            server=first.server,
            model=model,
            summary=summary,
            records_path=records,
            wall_s=max(e.wall_s for e in entries),
            loop_lag_p99_s=max((e.loop_lag_p99_s or 0.0) for e in entries),
            loop_lag_max_s=max((e.loop_lag_max_s or 0.0) for e in entries),
            t0_unix_s=min(t0 for _, t0 in parts),
            figures=merge_figures([e.figures for e in entries]),
            notes=notes,
            interrupted=any(e.interrupted for e in entries),
        )
        if stats.bottleneck:
            stats.notes.insert(0, stats.bottleneck)
        fingerprint = ModelFingerprint.from_dict(first.fingerprint)
        recorder.report_stress(stats, fingerprint, records.parent)
        recorder.results.stress[-1].shard_reports = [e.report for e in entries]
