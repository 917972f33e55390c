"""The stress modes under pytest: run a mode, write its report, give the test its JUnit
properties and pytest-benchmark rounds, and fail on no success, an SLO miss or a regression."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmserver._util import ProgressLine, should_show_progress
from pytest_llmserver.gate import ModelFingerprint
from pytest_llmserver.plugin.progress import progress_line
from pytest_llmserver.plugin.sessions import Target
from pytest_llmserver.plugin.state import shard_label, worker_id, workerinput
from pytest_llmserver.report import log_request_error
from pytest_llmserver.stress import (
    ClientCapacity,
    RollingMedian,
    StressTester,
    TestStats,
    WorkerPool,
    WorkloadError,
    calibrate,
    meet,
    merge_worker_results,
    progress_text,
    rendezvous,
    usable_cores,
    worker_count,
)
from pytest_llmserver.stress import ModeCall as SplitCall

if TYPE_CHECKING:
    from pytest_llmserver.servermetrics import Scraper

ModeCall = Callable[[StressTester], Coroutine[Any, Any, TestStats]]

CALIBRATE_FROM_PER_S = 50.0
"""Requested rates from this one up are checked against the calibrated client capacity
(below it a run is not calibrated: one second saved, and any client process keeps up)."""

WORKER_SLACK_S = 180.0
"""Time worker processes get beyond the run's duration (warm-up, drain) before being stopped."""


class StressSession:
    """Runs stress modes against the target and keeps what they reported."""

    def __init__(self, target: Target, quiet: bool) -> None:
        self.target = target
        self._quiet = quiet
        self._capacity: ClientCapacity | None = None

    def capacity(self) -> ClientCapacity:
        """This machine's client capacity, calibrated once per run."""
        if self._capacity is None:
            self._capacity = calibrate()
        return self._capacity

    def plan(self, call: SplitCall | None, sharded: bool) -> tuple[int, list[str]]:
        """How many worker processes run ``call`` (``--llm-workers``; auto: by the calibrated
        capacity), and the warning when the requested rate is beyond what they can send."""
        s = self.target.settings
        rate = None if call is None or call.mode is None else call.rate_per_s()
        if sharded:  # xdist shards split the load themselves
            if (s.stress.workers or 1) > 1:
                return 1, [
                    f"--llm-workers={s.stress.workers} is not used: --llm-shards="
                    f"{s.stress.shards} splits the load over xdist workers instead"
                ]
            return 1, []
        if rate is None:
            return 1, []
        if rate < CALIBRATE_FROM_PER_S:
            return s.stress.workers or 1, []
        capacity = self.capacity()
        per_process = capacity.requests_per_s_at(s.run.max_tokens or 128)
        workers = worker_count(s.stress.workers, rate, per_process, usable_cores())
        if rate <= per_process * workers:
            return workers, []
        return workers, [
            f"requested rate {rate:,.1f} req/s is beyond the calibrated client capacity of "
            f"{per_process * workers:,.0f} req/s ({workers} process(es); {capacity.describe()})"
        ]

    def run(
        self,
        mode_call: ModeCall,
        run_id: str,
        request: pytest.FixtureRequest | None = None,
        shard: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> TestStats:
        """Run one mode and write ``stress-<mode>-<id>.md/.json`` (charts, baseline comparison);
        give ``request``'s test its JUnit properties and pytest-benchmark rounds; then fail on
        no success, an SLO miss or a regression against the baseline.

        With ``shard`` (0-based, of ``--llm-shards``) ``mode_call`` runs that shard's part of
        the load: it waits for the other shards after its warm-up, and the controller merges
        the shards' records into one report at the end (and compares that with the baseline).

        ``overrides`` replace options of the run (``max_tokens``, ``slos``, ``dataset``, ...:
        any key of the options given to the ``StressTester``) for this run only.
        """
        target = self.target
        s = target.settings
        shards = s.stress.shards if shard is not None else 1
        group = run_id
        before_start = None
        notes: list[str] = []
        clock: dict[str, float] = {}  # this shard's clock offset from the controller's
        if shard is not None and shards > 1:
            run_id = f"{group}-{shard_label(shard, shards)}"
            test = request.node.originalname if request is not None else "stress"
            meeting = target.reports_dir() / "shards" / f"{test}-{group}"

            address = (workerinput(request.config) or {}).get("llm_meeting") if request else None

            async def meet_shards() -> float | None:
                if address is None:  # no controller's service: meet through the directory
                    note = await rendezvous(meeting, shard, shards)
                    if note:
                        notes.append(note)
                    return None
                met = await meet(address, group, shard, shards, timeout_s=120.0)
                clock["offset_s"] = met.offset_s
                if met.note:
                    notes.append(met.note)
                return met.start_s

            before_start = meet_shards
        call = SplitCall.capture(mode_call)
        workers, warnings = self.plan(call, sharded=shards > 1)
        if warnings and request is not None:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"WARNING: {warnings[0]}", yellow=True)
        fingerprint = target.fingerprint()
        logger = target.recorder.logger
        if request is not None:
            progress = progress_line(request.config)
        else:
            stream = sys.__stderr__ or sys.stderr
            progress = ProgressLine(stream, enabled=should_show_progress(stream, self._quiet))
        ttft = RollingMedian()
        counts = {"done": 0, "errors": 0}
        last = [""]  # the latest progress text, shown once more at the end

        def on_record(record: dict[str, Any], in_flight: int | None) -> None:
            if record.get("warmup"):
                return
            counts["done"] += 1
            if not record.get("ok"):
                counts["errors"] += 1
                log_request_error(logger, record, run_id)
            ttft.add(record.get("ttft_s"))
            done, errors = counts["done"], counts["errors"]
            last[0] = progress_text(done, in_flight, errors, ttft.value(), run_id)
            progress.show(last[0])

        options: dict[str, Any] = {
            "max_tokens": s.run.max_tokens or 128,
            "api_key": s.target.api_key,
            "timeout_s": s.target.timeout_s,
            "seed": s.run.seed + (shard or 0),
            "warmup": s.stress.warmup,
            "out_dir": target.reports_dir(),
            "slos": s.stress.slo,
            "run_id": run_id,
            "temperature": s.run.temperature,
            "sampling_seed": s.run.sampling_seed,
            "dataset": s.stress.dataset,
            "shared_prefix_tokens": s.stress.shared_prefix_tokens,
            "top_p": s.run.top_p,
            "extra_body": s.run.extra_body,
            "headers": s.target.header,
            "secrets": s.secrets(),
            # as text: the options also travel to worker processes as JSON
            "input_tokens": _text(s.stress.input_tokens),
            "output_tokens": _text(s.stress.output_tokens),
        }
        options.update(checked_overrides(options, overrides))
        scraper = self.scraper(shards)
        try:
            with scraper:
                if call is not None and workers > 1:
                    stats = self._split(call, workers, options, on_record, fingerprint)
                else:
                    stats = self._single(mode_call, options, on_record, before_start, fingerprint)
        except WorkloadError as exc:
            pytest.fail(f"workload: {exc}", pytrace=False)
        finally:
            if last[0]:
                progress.show(last[0], force=True)
            progress.close()
        attach_server_metrics(stats, scraper, target.recorder.redactor.scrub)
        if shards > 1:
            stats.params.update(shard=shard, shards=shards, shard_group=group, **clock)
            stats.notes += notes
        if warnings:
            stats.notes.insert(1 if stats.bottleneck else 0, warnings[0])
        _, comparisons, samples = target.recorder.report_stress(
            stats, fingerprint, target.reports_dir(), compare=shards == 1
        )
        if request is not None:
            request.node.user_properties += junit_properties(stats)
            feed_benchmark(request, stats, samples.get("e2e_s") or [])
        check(stats)
        regressions = [c.line() for c in comparisons if c.status == "regression"]
        if regressions:
            pytest.fail("regression against the baseline: " + "; ".join(regressions), False)
        return stats

    def scraper(self, shards: int) -> Scraper:
        """The run's scraper of the server's own metrics (``--llm-server-metrics``), found
        before the run; scrapes nothing when off or sharded (each shard is its own process)."""
        from pytest_llmserver.servermetrics import MetricsError, open_scraper

        s, server = self.target.settings, self.target.server
        targets = ("off",) if shards > 1 else s.stress.server_metrics
        interval = s.stress.server_metrics_interval_s
        try:
            scraper = open_scraper(targets, server.url, server.type, s.target.api_key, interval)
        except MetricsError as exc:
            pytest.fail(f"--llm-server-metrics: {exc}", pytrace=False)
        if shards > 1 and s.stress.server_metrics != ("off",):
            scraper.series.notes.append("not scraped: --llm-shards splits the run over processes")
        return scraper

    def _single(
        self,
        mode_call: ModeCall,
        options: dict[str, Any],
        on_record: Callable[[dict[str, Any], int], None],
        before_start: Callable[[], Coroutine[Any, Any, float | None]] | None,
        fingerprint: ModelFingerprint,
    ) -> TestStats:
        """The mode in this process; interrupted: report what finished, then re-raise."""
        target = self.target
        tester = StressTester(
            target.server,
            target.model,
            **options,
            on_record=on_record,
            before_start=before_start,
            write_report=False,
        )
        try:
            return asyncio.run(mode_call(tester))
        except KeyboardInterrupt:
            # Stopped (Ctrl-C, SIGTERM): report what finished, then let pytest stop.
            partial = tester.stats
            if partial is not None and partial.interrupted:
                target.recorder.report_stress(
                    partial, fingerprint, target.reports_dir(), compare=False
                )
            raise

    def _split(
        self,
        call: SplitCall,
        workers: int,
        options: dict[str, Any],
        on_record: Callable[[dict[str, Any], int | None], None],
        fingerprint: ModelFingerprint,
    ) -> TestStats:
        """The mode's schedule split over ``workers`` processes, merged into one run;
        interrupted: the processes stop, what they reported is merged and reported."""
        target = self.target
        out_dir = Path(options["out_dir"])
        pool = WorkerPool(
            target.server.to_dict(),
            target.model,
            {**options, "out_dir": str(out_dir)},
            call,
            workers,
            max_wall_s=float(call.arguments().get("duration") or 0.0) + WORKER_SLACK_S,
            on_record=on_record,
        )
        merged = out_dir / f"stress-{call.mode}-{options['run_id'] or 'run'}.jsonl"
        slos = options["slos"] or None
        try:
            results = pool.run()
        except KeyboardInterrupt:
            if pool.results:
                partial = merge_worker_results(pool.results, merged, slos)
                partial.interrupted = True
                target.recorder.report_stress(partial, fingerprint, out_dir, compare=False)
            raise
        return merge_worker_results(results, merged, slos)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def attach_server_metrics(
    stats: TestStats, scraper: Scraper, scrub: Callable[[Any], Any] = lambda value: value
) -> None:
    """Write the scraped series next to the run's records and put its summary in the report
    (tables, notes), each through ``scrub`` (a scrape URL may hold the server's password);
    nothing when nothing was scraped."""
    from pytest_llmserver.servermetrics import series_path, server_report
    from pytest_llmserver.stress import run_records

    series = scraper.series
    if not series.endpoints and not series.notes:
        return
    try:
        records = run_records(stats.records_path)  # a sweep's or capacity search's every part
    except (OSError, ValueError) as exc:
        stats.notes.append(f"server metrics: not summarised: the records do not read ({exc})")
        return
    report = server_report(series, records, stats.t0_unix_s)
    if series.endpoints:
        series.write(series_path(stats.records_path), scrub)
    stats.tables.update(scrub(report.tables()))
    stats.figures.update(scrub(report.figures()))
    stats.notes += [f"server metrics: {scrub(note)}" for note in report.notes]


def junit_properties(stats: TestStats) -> list[tuple[str, object]]:
    """Key figures for JUnit XML ``<property>`` elements."""
    summary = stats.summary
    figures: list[tuple[str, object]] = [
        ("llm_model", stats.model),
        ("ok", summary.ok),
        ("failed", summary.failed),
        ("requests_per_s", summary.throughput.requests_per_s),
    ]
    for metric in ("ttft_s", "e2e_s", "itl_s"):
        values = summary.metrics.metric(metric)
        if values is not None:
            figures += [(f"{metric}_p50", values.p50), (f"{metric}_p95", values.p95)]
    return [(name, round(v, 6) if isinstance(v, float) else v) for name, v in figures]


def feed_benchmark(request: pytest.FixtureRequest, stats: TestStats, e2e_s: list[float]) -> None:
    """Give pytest-benchmark one round per successful request (its measured E2E seconds), so
    ``--benchmark-json`` / ``--benchmark-compare`` / ``--benchmark-histogram`` see our numbers.

    Does nothing when pytest-benchmark is absent, disabled or skipping, on xdist workers, or
    without samples. The fixture is asked for here, not in the test's signature, so
    ``--benchmark-skip`` does not skip stress tests.
    """
    config = request.config
    if not e2e_s or not config.pluginmanager.hasplugin("benchmark"):
        return
    if worker_id(config) is not None:
        return  # pytest-benchmark turns itself off under xdist
    if config.getoption("benchmark_disable", False) or config.getoption("benchmark_skip", False):
        return
    benchmark = request.getfixturevalue("benchmark")
    make_stats = getattr(benchmark, "_make_stats", None)
    if make_stats is None or getattr(benchmark, "disabled", False):
        return  # a pytest-benchmark without the internals this relies on
    benchmark.group = f"llm {stats.mode}"
    benchmark.extra_info.update(
        {"model": stats.model, "mode": stats.mode, "id": stats.params.get("id"), "unit": "e2e_s"}
    )
    rounds = make_stats(1)
    for value in e2e_s:
        rounds.update(value)
    benchmark._mode = "pytest-llmserver: one round per request"


def check(stats: TestStats) -> None:
    """Fail when no request succeeded or an SLO was missed, showing the measured values."""
    summary = stats.summary
    if summary.ok == 0 and summary.failed:
        errors = ", ".join(f"{k}: {v}" for k, v in summary.errors.items() if v)
        pytest.fail(f"all {summary.failed} requests failed ({errors})", pytrace=False)
    missed = [r for r in stats.slo_results if not r.passed]
    if missed:
        parts = [
            f"{r.name} measured {'n/a' if r.measured is None else f'{r.measured:.3f}'} s "
            f"> limit {r.limit:g} s"
            for r in missed
        ]
        pytest.fail("SLO missed: " + "; ".join(parts), pytrace=False)


def checked_overrides(
    options: Mapping[str, Any], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``overrides`` when each names one of ``options``; ``ValueError`` naming those that
    do not."""
    unknown = sorted(set(overrides or ()) - set(options))
    if unknown:
        raise ValueError(f"no stress option to override: {', '.join(unknown)}")
    return dict(overrides or {})
