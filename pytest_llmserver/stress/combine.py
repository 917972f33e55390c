"""One run from the parts several processes ran of it: records merged onto one clock, one
summary over all of them, the scheduler's figures added up, lag percentiles over every sample."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.saturation import merge_figures
from pytest_llmserver.stress.shards import merge_records
from pytest_llmserver.stress.summary import StressSummary, summarize_file, suspect_note
from pytest_llmserver.stress.timing import LoopLagMonitor

if TYPE_CHECKING:
    from pytest_llmserver.stress.workers import WorkerResult

_CARRIED = ("interrupted", "started alone", "clock")


def merge_worker_results(
    results: Sequence[WorkerResult], out: Path, slos: Mapping[str, float] | None = None
) -> TestStats:
    """The run of worker processes as one ``TestStats``: their records merged into ``out``
    (tagged ``worker``, on the meeting service's clock), summarized together."""
    if not results:
        raise ValueError("no worker process reported a run")
    results = sorted(results, key=lambda r: r.part)
    parts = [(Path(r.stats["records_path"]), r.origin_s) for r in results]
    spread_s = merge_records(parts, out, tag="worker", tags=[r.part for r in results])
    first = results[0].stats
    count = int(first["params"].get("part", [0, len(results)])[1])
    params = {k: v for k, v in first["params"].items() if k not in ("part", "id")}
    params.update(workers=count)
    if first["params"].get("id"):
        params["id"] = str(first["params"]["id"]).rsplit("-w", 1)[0]
    summary = summarize_file(out, slos or None)
    lag = LoopLagMonitor.merged(
        (r.loop_lag_counts, float(r.stats.get("loop_lag_max_s") or 0.0)) for r in results
    )
    offsets = ", ".join(f"{float(r.meeting.get('offset_s') or 0) * 1e3:+.2f}" for r in results)
    notes = [
        f"merged from {len(results)} of {count} worker processes sharing one schedule; their "
        f"origins spread over {spread_s * 1e3:.1f} ms; clock offsets {offsets} ms",
        *(n for r in results for n in r.stats.get("notes") or [] if n.startswith(_CARRIED)),
    ]
    if len(results) < count:
        notes.append(f"only {len(results)} of {count} worker processes reported")
    return assemble(
        first,
        params=params,
        summary=summary,
        records=out,
        wall_s=max(float(r.stats["wall_s"]) for r in results),
        lag=lag,
        t0_unix_s=min(origin for _, origin in parts),
        figures=merge_figures(
            [r.stats.get("figures") or {} for r in results],
            [x for r in results for x in r.schedule_lag_s],
        ),
        notes=notes,
        interrupted=any(bool(r.stats.get("interrupted")) for r in results),
    )


def assemble(
    first: Mapping[str, Any],
    *,
    params: dict[str, Any],
    summary: StressSummary,
    records: Path,
    wall_s: float,
    lag: LoopLagMonitor,
    t0_unix_s: float,
    figures: dict[str, Any],
    notes: list[str],
    interrupted: bool,
) -> TestStats:
    """A merged ``TestStats``: mode, server and model from the first part; the bottleneck
    line first of the notes, then the given ones, a suspect-figures note last."""
    stats = TestStats(
        mode=str(first["mode"]),
        params=params,
        server=dict(first["server"]),
        model=str(first["model"]),
        summary=summary,
        records_path=records,
        wall_s=wall_s,
        loop_lag_p99_s=lag.percentile_s(99),
        loop_lag_max_s=lag.max_s,
        t0_unix_s=t0_unix_s,
        figures=figures,
        notes=notes,
        interrupted=interrupted,
    )
    suspect = suspect_note(summary)
    stats.notes = [*([stats.bottleneck] if stats.bottleneck else []), *notes]
    if suspect is not None:
        stats.notes.append(suspect)
    return stats
