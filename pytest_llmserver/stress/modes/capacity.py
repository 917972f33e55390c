"""Capacity mode: requests one at a time (the SLOs at no load), then the capacity search, one
open-loop run per probed rate (``capacity_search``), each with the safety stops.

Each probe's records go to ``<stem>.probes/probe-NN-<rate>.jsonl``; the run's own records
file gets the records of the highest rate that passed (so its statistics are those at
capacity), or the no-load ones when none passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pytest_llmserver.client import ChatResponse, ModelClient
from pytest_llmserver.stress.capacity_search import (
    Capacity,
    Probe,
    no_load_line,
    search_capacity,
    verdict,
)
from pytest_llmserver.stress.engine import SendFn, run_closed_loop, run_open_loop
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.saturation import bottleneck_line, schedule_figures
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.stops import StopMonitor, StopRules, ramp_offsets_s, stop_note
from pytest_llmserver.stress.summary import StressSummary, summarize_records
from pytest_llmserver.stress.timing import ArrivalProcess, RunClock, arrival_offsets_s

Records = list[dict[str, Any]]


class Runs:
    """Sub-runs of one mode run, each its own records file under ``directory``, fed also to
    the tester's ``on_record`` (progress, error log); sends shifted so no two sub-runs send
    the same request index (each prompt salted apart)."""

    def __init__(self, tester: TesterBase, client: ModelClient, directory: Path) -> None:
        self.tester = tester
        self._send = tester.sender(client)
        self.directory = directory
        self.count = 0
        self._base = 0

    def sender(self, size: int) -> SendFn:
        """A sender of the next ``size`` request indexes."""
        base, send = self._base, self._send
        self._base += size

        async def shifted(index: int) -> ChatResponse:
            return await send(base + index)

        return shifted

    def sink(self, name: str, records: Records, monitor: StopMonitor | None = None) -> JsonlSink:
        """The ``NN-<name>.jsonl`` sink of the next sub-run, collecting into ``records``."""
        self.count += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        outer = self.tester.on_record if monitor is None else monitor.hook(self.tester.on_record)

        def on_record(record: dict[str, Any], in_flight: int) -> None:
            records.append(record)
            if outer is not None:
                outer(record, in_flight)

        path = self.directory / f"{self.count:02d}-{name}.jsonl"
        return JsonlSink(path, on_record, redactor=self.tester.redactor)


def copy_records(records: Sequence[Mapping[str, Any]], sink: JsonlSink) -> None:
    """Write ``records`` (already redacted) to the run's own sink."""
    for record in records:
        sink.write(dict(record))


async def closed_point(runs: Runs, name: str, concurrency: int, total: int) -> Records:
    """A closed loop of ``total`` requests, ``concurrency`` at a time; its records."""
    records: Records = []
    with runs.sink(name, records) as sink:
        send = runs.sender(total)
        await run_closed_loop(
            send, total=total, concurrency=concurrency, clock=RunClock(), sink=sink
        )
    return records


@dataclass(frozen=True)
class PointLoad:
    """How each open-loop point of a sweep or capacity search runs: a ``ramp_s`` ramp (its
    requests warm-up), the safety stops (``max_error_rate``, over-saturation), the arrival
    process and the in-flight bound."""

    ramp_s: float = 0.0
    max_error_rate: float | None = None
    arrival: ArrivalProcess = "constant"
    max_in_flight: int = 64

    @property
    def rules(self) -> StopRules:
        """The stop rules of each point."""
        return StopRules(max_error_rate=self.max_error_rate)

    def params(self) -> dict[str, Any]:
        """The run's parameters: these fields and the over-saturation test in words."""
        return {**asdict(self), "stop_test": self.rules.describe()}


async def open_point(
    runs: Runs, name: str, rate_per_s: float, duration_s: float, load: PointLoad
) -> tuple[Records, dict[str, Any], StopMonitor]:
    """An open loop at ``rate_per_s`` for ``ramp_s + duration_s`` with the stops; its
    records, schedule figures and monitor."""
    records: Records = []
    monitor = StopMonitor(load.rules)
    steady = arrival_offsets_s(rate_per_s, load.arrival, seed=runs.tester.seed + runs.count)
    offsets = ramp_offsets_s(steady, load.ramp_s)
    total_s = load.ramp_s + duration_s
    with runs.sink(name, records, monitor) as sink:
        sched = await run_open_loop(
            runs.sender(int(rate_per_s * total_s) + 2),
            offsets,
            clock=RunClock(),
            sink=sink,
            duration_s=total_s,
            max_in_flight=load.max_in_flight,
            stop=monitor,
            ramp_s=load.ramp_s,
        )
    figures = schedule_figures(sched, rate_per_s, duration_s + load.ramp_s / 2, "rps")
    return records, figures, monitor


async def run_capacity_test(
    tester: TesterBase,
    duration: float = 10.0,
    *,
    min_requests: int = 20,
    max_probes: int = 12,
    rel_tol: float = 0.05,
    ramp_s: float = 0.0,
    max_error_rate: float | None = None,
    arrival: ArrivalProcess = "constant",
    max_in_flight: int = 64,
) -> TestStats:
    """The highest open-loop rate at which ``tester.slos`` all hold with goodput ≥ 99%.

    First ``min_requests`` requests one at a time: an SLO missed there is reported as such
    (no search). Then the search (``search_capacity``) from that synchronous rate, each probe
    ``duration`` seconds (at least ``min_requests`` requests) after a ``ramp_s`` ramp, with
    the error-rate and over-saturation stops (a stopped probe fails).
    """
    slos = dict(tester.slos)
    if not slos:
        raise ValueError("the capacity search needs SLOs: give --llm-slo, e.g. ttft_p95:1")
    if not duration > 0 or min_requests < 1:
        raise ValueError(f"duration must be > 0 and min_requests >= 1, got {duration}")
    load = PointLoad(ramp_s, max_error_rate, arrival, max_in_flight)
    suffix = f"-{tester.run_id}" if tester.run_id else ""
    directory = tester.out_dir / f"stress-capacity{suffix}.probes"

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        runs = Runs(tester, client, directory)
        no_load = await closed_point(runs, "no-load", 1, min_requests)
        summary = summarize_records(no_load, slos)
        line = no_load_line(summary.slos)
        e2e = summary.metrics.metric("e2e_s")
        start_per_s = 1.0 / e2e.mean if e2e is not None and e2e.mean > 0 else None
        if line is None and start_per_s is None:
            line = f"no request succeeded at no load: {summary.errors}"
        if line is not None or start_per_s is None:
            copy_records(no_load, sink)
            capacity = Capacity(slos, 0.0, None, [], no_load=line)
            return ModeOutput(figures=capacity_figures(capacity), notes=[str(line)])
        best: list[Records] = [no_load]  # the records of the highest rate that passed
        notes: list[str] = []

        async def probe(rate: float) -> Probe:
            span = max(duration, min_requests / rate)
            records, figures, monitor = await open_point(runs, f"{rate:.4g}rps", rate, span, load)
            result = judge(rate, records, figures, monitor, slos, span)
            bottleneck = bottleneck_line(figures, {"max_in_flight": max_in_flight})
            if bottleneck is not None:
                notes.append(f"probe at {rate:.4g} req/s: {bottleneck}")
            if result.passed:  # each pass is above the ones before (see search_capacity)
                best[0] = records
            return result

        capacity = await search_capacity(
            probe, start_per_s, slos, max_probes=max_probes, rel_tol=rel_tol
        )
        copy_records(best[0], sink)
        stops = [stop_note(p.stop) for p in capacity.probes if p.stop is not None]
        table = [p.row() for p in capacity.probes]
        return ModeOutput(
            tables={"capacity_probes": table},
            figures=capacity_figures(capacity),
            notes=[capacity.line(), *notes, *(f"a probe {s}" for s in stops[:3])],
        )

    params = {
        "duration_s": duration,
        "min_requests": min_requests,
        "max_probes": max_probes,
        "rel_tol": rel_tol,
        **load.params(),
    }
    return await tester.run_mode("capacity", params, body, pool=max_in_flight)


def judge(
    rate: float,
    records: Records,
    figures: Mapping[str, Any],
    monitor: StopMonitor,
    slos: Mapping[str, float],
    duration_s: float,
) -> Probe:
    """One probe's verdict: its steady-state records against ``slos``; requests shed while
    every slot stayed busy count as not good (the client's own lateness is noted apart, as
    the probe's bottleneck line)."""
    summary: StressSummary = summarize_records(records, slos)
    goodput = summary.goodput
    requests = goodput.requests if goodput is not None else summary.ok + summary.failed
    good = goodput.good if goodput is not None else summary.ok
    due = requests + int(figures.get("shed_full") or 0)
    return verdict(rate, summary.slos, due, good, stop=monitor.stop, duration_s=duration_s)


def capacity_figures(capacity: Capacity) -> dict[str, Any]:
    """The mode's figures: ``capacity`` (every detail) and ``capacity_rps`` (the number)."""
    return {"capacity_rps": capacity.rate_per_s, "capacity": capacity.to_dict()}
