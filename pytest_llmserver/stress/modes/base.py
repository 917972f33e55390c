"""What every stress mode shares: the tester's settings, one run (client, warm-up, records,
summary, report), prompts as chat messages and the default sender."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_llmserver.stress.timing as timing
from pytest_llmserver._util import Redactor, without_secrets
from pytest_llmserver.client import CANCELLED, ChatResponse, ModelClient, ServerRecord, Timeouts
from pytest_llmserver.stress.dataset import Dataset, dataset_sender, load_dataset
from pytest_llmserver.stress.engine import (
    WHOLE,
    OpenLoopStats,
    Part,
    SendFn,
    run_warmup,
)
from pytest_llmserver.stress.lengths import (
    TokenLengths,
    WorkloadError,
    coerce_lengths,
    length_notes,
)
from pytest_llmserver.stress.prompt_cache import cache_note
from pytest_llmserver.stress.records import TestResult, read_results
from pytest_llmserver.stress.report import write_stress_report
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.shaping import LengthShaper, Shaped
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.stops import StopMonitor, StopRules, stop_note
from pytest_llmserver.stress.summary import summarize_file, suspect_note
from pytest_llmserver.stress.timing import LoopLagMonitor, RunClock
from pytest_llmserver.stress.workload import SHORT_PROMPTS, salted, shared_prefix

RecordHook = Callable[[dict[str, Any], int], None]


@dataclass
class ModeOutput:
    """What a mode adds to its ``TestStats``: tables, figures and notes."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


Body = Callable[[ModelClient, RunClock, JsonlSink], Awaitable[ModeOutput]]
"""A mode's measured part: sends through the client, writes records to the sink."""


class TesterBase:
    """The settings of a ``StressTester`` and the run every mode goes through.

    Records stream to ``out_dir/stress-<mode>[-<run_id>].jsonl``. With ``write_report`` (the
    default) the run's Markdown and JSON report are written beside them under the same stem;
    the pytest plugin turns it off and writes its own, with charts and baseline comparisons.
    ``redactor`` (the API key and the server URL's password) redacts every record and report.

    ``part = (k, n)`` makes the open-loop modes send only every n-th item of their schedule
    (the others are other processes' parts). ``before_start`` runs after the warm-up, e.g. to
    wait for those processes; when it returns a wall-clock time (seconds since the epoch, this
    process's clock), the run's origin is that instant, so every part shares one origin.
    After a run, ``schedule`` holds what its scheduler saw (open-loop modes; else None) and
    ``loop_lag`` its event-loop lag monitor.

    Every prompt ``prompt`` builds starts with a salt of the seed, the mode, the run id, the
    number of the tester's run and the request's index, so no request finds another's prefix
    in a server cache (a rerun with the same seed repeats them: a server that still holds them
    shows up in the cache note); ``shared_prefix_tokens`` puts the same filler of about that
    many tokens before the salt, to measure the cache on purpose.

    ``input_tokens`` / ``output_tokens`` (``TokenLengths`` or their ``MEAN[:STDDEV[:MIN:MAX]]``
    text) make every fresh prompt a synthetic one of a drawn length as the server counts it
    (calibrated once, before the first warm-up) and fix each reply's length where the server
    can; records keep the requested lengths beside the actual ones.
    """

    def __init__(
        self,
        server: ServerRecord | Mapping[str, Any],
        model: str,
        max_tokens: int = 256,
        system_prompt: str = "",
        *,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        seed: int = 0,
        warmup: int = 1,
        out_dir: Path | None = None,
        slos: Mapping[str, float] | None = None,
        on_record: RecordHook | None = None,
        run_id: str = "",
        before_start: Callable[[], Awaitable[float | None]] | None = None,
        write_report: bool = True,
        part: Part = WHOLE,
        temperature: float | None = None,
        sampling_seed: int | None = None,
        dataset: str | Path | Dataset | None = None,
        shared_prefix_tokens: int = 0,
        top_p: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        input_tokens: TokenLengths | str | int | None = None,
        output_tokens: TokenLengths | str | int | None = None,
    ) -> None:
        self.server = ServerRecord.coerce(server)
        self.model = model
        self.max_tokens = max_tokens
        self.system_prompt = system_prompt
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.seed = seed
        self.warmup = warmup
        self.out_dir = out_dir or Path(tempfile.mkdtemp(prefix="llm-stress-"))
        self.slos = dict(slos or {})
        self.on_record = on_record
        self.run_id = run_id
        self.before_start = before_start
        self.write_report = write_report
        self.part = part
        self.temperature = temperature
        self.sampling_seed = sampling_seed
        self.top_p = top_p
        self.extra_body = dict(extra_body or {})
        self.headers = dict(headers or {})
        if dataset is not None and not isinstance(dataset, Dataset):
            dataset = load_dataset(dataset)
        self.dataset: Dataset | None = dataset
        if shared_prefix_tokens < 0:
            raise ValueError(f"shared prefix must be >= 0 tokens, got {shared_prefix_tokens}")
        self.shared_prefix_tokens = shared_prefix_tokens
        self._prefix = shared_prefix(shared_prefix_tokens)
        lengths_in = coerce_lengths(input_tokens, "input tokens")
        if lengths_in is not None and self.dataset is not None:
            raise WorkloadError(
                "input token lengths build their own prompts: they cannot be combined with a "
                "dataset (drop --llm-input-tokens or --llm-dataset)"
            )
        self.lengths = LengthShaper(
            self.server,
            model,
            lengths_in,
            coerce_lengths(output_tokens, "output tokens"),
            shared_prefix_tokens,
        )
        self._runs = 0
        self._salt_key = f"{seed}"
        self.schedule: OpenLoopStats | None = None
        self.loop_lag: LoopLagMonitor | None = None
        self.redactor = Redactor(secrets=[api_key, *secrets], urls=[self.server.url])
        self._stats: TestStats | None = None
        self._results: list[TestResult] | None = None
        self.monitor: StopMonitor | None = None
        """The safety stops of the next run (an open-loop mode sets it, ``run_mode`` feeds it
        every record and clears it)."""

    @property
    def stats(self) -> TestStats | None:
        """What the last run returned (None before the first)."""
        return self._stats

    @property
    def results(self) -> list[TestResult]:
        """The last run's measured (non-warm-up) requests, read back from its records file
        once; empty before the first run."""
        if self._stats is None:
            return []
        if self._results is None:
            self._results = read_results(self._stats.records_path)
        return self._results

    def messages(self, text: str, history: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        """Chat messages: the system prompt (if any), ``history``, then ``text`` as the user."""
        messages: list[dict[str, Any]] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.extend(history)
        messages.append({"role": "user", "content": text})
        return messages

    def prompt(self, text: str, index: int) -> str:
        """``text`` as request ``index`` sends it: salted, behind the shared prefix if any."""
        return salted(text, self._salt_key, index, self._prefix)

    def shaped(
        self,
        text: str,
        index: int,
        max_tokens: int | None = None,
        *,
        body: str | None = None,
        fresh: bool = True,
    ) -> Shaped:
        """Request ``index``: ``text`` salted when ``fresh`` (or a synthetic prompt of the
        run's input length), its token limit (or the run's output length) and body fields."""
        if fresh and self.lengths.input_tokens is None:
            text = self.prompt(text, index)
        return self.lengths.shape(text, index, self._salt_key, max_tokens, body=body, fresh=fresh)

    async def send_shaped(
        self,
        client: ModelClient,
        text: str,
        index: int,
        max_tokens: int | None = None,
        history: Sequence[dict[str, Any]] = (),
        *,
        body: str | None = None,
        fresh: bool = True,
    ) -> ChatResponse:
        """Send request ``index`` as ``shaped`` builds it, after ``history``."""
        shaped = self.shaped(text, index, max_tokens, body=body, fresh=fresh)
        return await client.complete(
            self.messages(shaped.text, history),
            max_tokens=shaped.max_tokens,
            extra_body=shaped.extra_body,
        )

    def sender(self, client: ModelClient, max_tokens: int | None = None) -> SendFn:
        """Sends request ``index`` with the ``index``-th short prompt (cycling), or with the
        dataset's rows in the seed's order (``dataset_sender``); salted, or of the run's
        lengths."""
        if self.dataset is not None:
            return dataset_sender(self, client, self.dataset, max_tokens)

        async def send(index: int) -> ChatResponse:
            text = SHORT_PROMPTS[index % len(SHORT_PROMPTS)]
            return await self.send_shaped(client, text, index, max_tokens)

        return send

    def stops(self, *, max_error_rate: float | None = None, saturation: bool = True) -> StopMonitor:
        """The safety stops of the next run (``run_mode`` feeds them); pass the monitor as
        the open loop's ``stop``."""
        self.monitor = StopMonitor(StopRules(max_error_rate=max_error_rate, saturation=saturation))
        return self.monitor

    def client(self, pool: int) -> ModelClient:
        """The client a run sends through, with ``pool`` connections (not yet opened)."""
        return ModelClient(
            self.server,
            self.model,
            api_key=self.api_key,
            timeouts=Timeouts.from_total(self.timeout_s),
            concurrency=pool,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seed=self.sampling_seed,
            top_p=self.top_p,
            extra_body=self.extra_body or None,
            headers=self.headers or None,
        )

    async def run_mode(
        self, mode: str, params: dict[str, Any], body: Body, *, pool: int = 4
    ) -> TestStats:
        """Open a client with ``pool`` connections, warm up, run ``body`` from a fresh clock,
        summarize the records (and write the report when asked).

        When the run is cancelled or interrupted, every request in flight is written as
        ``cancelled``; the records so far still become ``stats`` (``interrupted`` set, and
        the report when asked) before the interrupt is raised again.
        """
        suffix = f"-{self.run_id}" if self.run_id else ""
        self._runs += 1
        self._salt_key = f"{self.seed}/{mode}/{self.run_id}/{self._runs}"
        path = self.out_dir / f"stress-{mode}{suffix}.jsonl"
        all_params = {
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "warmup": self.warmup,
            "system_prompt": self.system_prompt,
            "shared_prefix_tokens": self.shared_prefix_tokens,
            **params,
        }
        if self.run_id:
            all_params["id"] = self.run_id
        if self.dataset is not None:
            all_params["dataset"] = self.dataset.name
        if self.part != WHOLE:
            all_params["part"] = list(self.part)
        sent = {
            "temperature": self.temperature,
            "sampling_seed": self.sampling_seed,
            "top_p": self.top_p,
            "extra_body": without_secrets(self.extra_body) or None,
        }
        all_params.update({key: value for key, value in sent.items() if value is not None})
        refused: list[str] = []
        started_ns = time.perf_counter_ns()
        lag = self.loop_lag = LoopLagMonitor()
        self.schedule = None
        t0_unix_s: float | None = None

        def finish(extra: ModeOutput, interrupted: bool) -> TestStats:
            scrub = self.redactor.scrub
            stats = TestStats(
                mode=mode,
                params=scrub(all_params),
                server=scrub(self.server.to_dict()),
                model=self.model,
                summary=summarize_file(path, self.slos or None),
                records_path=path,
                wall_s=(time.perf_counter_ns() - started_ns) * 1e-9,
                loop_lag_p99_s=lag.percentile_s(99),
                loop_lag_max_s=lag.max_s,
                t0_unix_s=t0_unix_s,
                tables=scrub(extra.tables),
                figures=scrub(extra.figures),
                notes=scrub(extra.notes),
                interrupted=interrupted,
            )
            cache = cache_note(stats.summary.prompt_cache, self.shared_prefix_tokens)
            stop = None if monitor is None or monitor.stop is None else monitor.stop
            if stop is not None:
                stats.figures["stop"] = stop.to_dict()
            stopped = None if stop is None else stop_note(stop)
            first = [line for line in (stats.bottleneck, stopped, cache) if line]
            control = self.lengths.control
            lengths = length_notes(stats.summary.lengths, None if control.fixed else control.label)
            stats.notes = [*first, *lengths, *stats.notes, *refused, *run_notes(stats)]
            self._stats, self._results = stats, None
            if self.write_report:
                write_stress_report(stats, self.out_dir, stem=path.stem)
            return stats

        monitor, self.monitor = self.monitor, None
        on_record = self.on_record if monitor is None else monitor.hook(self.on_record)
        try:
            annotate = self.lengths.annotate if self.lengths.active else None
            with JsonlSink(path, on_record, redactor=self.redactor, annotate=annotate) as sink:
                async with self.client(pool) as client, lag:
                    clock = RunClock()
                    if self.lengths.active:  # check and calibrate: warm-up records
                        await self.lengths.prepare_run(
                            client,
                            clock,
                            sink,
                            self.messages,
                            self.seed,
                            api_key=self.api_key,
                            headers=self.headers,
                        )
                        all_params.update(self.lengths.params())
                    await run_warmup(self.sender(client), self.warmup, clock=clock, sink=sink)
                    start = None if self.before_start is None else await self.before_start()
                    if start is None:
                        clock.reset()
                        t0_unix_s = timing.wall_ns() / 1e9
                    else:  # the start the processes sharing this run agreed on
                        clock.start_at(start)
                        t0_unix_s = start
                    extra = await body(client, clock, sink)
                    if self.sampling_seed is not None and client.seed_refused:
                        all_params.pop("sampling_seed", None)
                        refused.append("the server refused the sampling seed: sent without it")
        except (asyncio.CancelledError, KeyboardInterrupt):
            finish(ModeOutput(), interrupted=True)
            raise
        return finish(extra, interrupted=False)


def run_notes(stats: TestStats) -> list[str]:
    """Notes every mode's run gets: interrupted, suspect server figures, a client-bound loop.
    (The bottleneck line of an open-loop run goes first of all its notes, then the line of a
    safety stop, then the note of an unasked-for prefix-cache hit.)"""
    notes: list[str] = []
    summary = stats.summary
    if stats.interrupted:
        cancelled = summary.errors.get(CANCELLED, 0)
        notes.append(
            f"interrupted: the run was stopped after {summary.ok + summary.failed} measured "
            f"requests ({cancelled} of them cancelled in flight); its figures cover those only"
        )
    suspect = suspect_note(summary)
    if suspect is not None:
        notes.append(suspect)
    if stats.client_bound:
        notes.append(
            f"client event-loop lag p99 {stats.loop_lag_p99_s or 0:.3f} s: the client is a "
            "bottleneck and its timings are inflated"
        )
    return notes
