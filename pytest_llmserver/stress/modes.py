"""The six stress modes on one server and model; each run returns a ``TestStats``."""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pytest_llmserver.client import ChatResponse, ModelClient, ServerRecord, Timeouts
from pytest_llmserver.discovery import context_length
from pytest_llmserver.stress.engine import (
    ArrivalProcess,
    JsonlSink,
    LoopLagMonitor,
    RunClock,
    arrival_offsets_s,
    run_closed_loop,
    run_open_loop,
    run_sessions,
    run_warmup,
    timed_request,
)
from pytest_llmserver.stress.results import TestStats
from pytest_llmserver.stress.stats import drift, summarize_file
from pytest_llmserver.stress.workload import (
    FOLLOW_UPS,
    OUTPUT_MIX,
    SHORT_PROMPTS,
    long_prompt,
    session_profile,
)

RecordHook = Callable[[dict[str, Any], int], None]
Body = Callable[[ModelClient, RunClock, JsonlSink], Awaitable[dict[str, Any]]]

WORDS_PER_TOKEN = 0.75
CALIBRATION_STEPS = 3
CALIBRATION_TOLERANCE = 0.02


class StressTester:
    """Runs the stress modes; records stream to ``out_dir/stress-<mode>.jsonl``."""

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
        before_start: Callable[[], Awaitable[None]] | None = None,
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

    # Shared machinery ------------------------------------------------------------------------

    def _messages(self, text: str, history: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.extend(history)
        messages.append({"role": "user", "content": text})
        return messages

    async def _run(
        self, mode: str, params: dict[str, Any], body: Body, *, pool: int = 4
    ) -> TestStats:
        suffix = f"-{self.run_id}" if self.run_id else ""
        path = self.out_dir / f"stress-{mode}{suffix}.jsonl"
        all_params = {
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "warmup": self.warmup,
            "system_prompt": self.system_prompt,
            **params,
        }
        if self.run_id:
            all_params["id"] = self.run_id
        started_ns = time.perf_counter_ns()
        async with (
            ModelClient(
                self.server,
                self.model,
                api_key=self.api_key,
                timeouts=Timeouts.from_total(self.timeout_s),
                concurrency=pool,
                max_tokens=self.max_tokens,
            ) as client,
            LoopLagMonitor() as lag,
        ):
            with JsonlSink(path, self.on_record) as sink:
                clock = RunClock()
                await run_warmup(self._sender(client), self.warmup, clock=clock, sink=sink)
                if self.before_start is not None:
                    await self.before_start()  # e.g. wait for the other shards
                clock.reset()
                t0_unix_s = time.time()
                extra = await body(client, clock, sink)
        stats = TestStats(
            mode=mode,
            params=all_params,
            server=self.server.to_dict(),
            model=self.model,
            summary=summarize_file(path, self.slos or None),
            records_path=path,
            wall_s=(time.perf_counter_ns() - started_ns) * 1e-9,
            loop_lag_p99_s=lag.percentile_s(99),
            loop_lag_max_s=lag.max_s,
            t0_unix_s=t0_unix_s,
            tables=extra.get("tables", {}),
            figures=extra.get("figures", {}),
            notes=extra.get("notes", []),
        )
        if stats.client_bound:
            stats.notes.append(
                f"client event-loop lag p99 {stats.loop_lag_p99_s or 0:.3f} s: the client is a "
                "bottleneck and its timings are inflated"
            )
        return stats

    def _sender(
        self, client: ModelClient, max_tokens: int | None = None
    ) -> Callable[[int], Awaitable[ChatResponse]]:
        async def send(index: int) -> ChatResponse:
            prompt = SHORT_PROMPTS[index % len(SHORT_PROMPTS)]
            return await client.complete(self._messages(prompt), max_tokens=max_tokens)

        return send

    # The modes -------------------------------------------------------------------------------

    async def run_throughput_test(self, concurrency: int, total: int) -> TestStats:
        """Burst: ``total`` requests, ``concurrency`` in flight at once (closed loop)."""
        if concurrency < 1 or total < 1:
            raise ValueError(f"concurrency and total must be >= 1, got {concurrency} and {total}")

        async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> dict[str, Any]:
            await run_closed_loop(
                self._sender(client), total=total, concurrency=concurrency, clock=clock, sink=sink
            )
            return {}

        return await self._run(
            "throughput", {"concurrency": concurrency, "total": total}, body, pool=concurrency
        )

    async def run_sustained_load_test(
        self,
        rpm: float,
        duration: float,
        *,
        arrival: ArrivalProcess = "constant",
        burstiness: float = 1.0,
        max_in_flight: int = 64,
    ) -> TestStats:
        """Open loop at ``rpm`` requests per minute for ``duration`` seconds."""
        if not rpm > 0:
            raise ValueError(f"rate must be > 0 requests per minute, got {rpm}")
        if not duration > 0:
            raise ValueError(f"duration must be > 0 seconds, got {duration}")
        offsets = arrival_offsets_s(rpm / 60.0, arrival, seed=self.seed, burstiness=burstiness)

        async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> dict[str, Any]:
            sched = await run_open_loop(
                self._sender(client),
                offsets,
                clock=clock,
                sink=sink,
                duration_s=duration,
                max_in_flight=max_in_flight,
            )
            lag = np.array(sched.schedule_lag_s or [0.0])
            return {
                "figures": {
                    "target_rps": rpm / 60.0,
                    "scheduled": sched.scheduled,
                    "blocked_by_max_in_flight": sched.blocked,
                    "cancelled_at_end": sched.cancelled,
                    "schedule_lag_p99_s": float(np.percentile(lag, 99)),
                }
            }

        params = {
            "rpm": rpm,
            "duration_s": duration,
            "arrival": arrival,
            "burstiness": burstiness,
            "max_in_flight": max_in_flight,
        }
        return await self._run("sustained", params, body, pool=max_in_flight)

    async def run_consistency_test(self, n: int, prompt: str | None = None) -> TestStats:
        """One prompt ``n`` times in a row (temperature 0): spread, drift, output divergence."""
        if n < 2:
            raise ValueError(f"consistency needs n >= 2 requests, got {n}")
        text = prompt or SHORT_PROMPTS[0]
        outputs: list[str] = []
        tokens: list[int] = []

        async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> dict[str, Any]:
            client.temperature = 0.0

            async def send(index: int) -> ChatResponse:
                response = await client.complete(self._messages(text))
                outputs.append(hashlib.sha256(response.content.encode()).hexdigest()[:16])
                tokens.append(response.metrics.output_tokens)
                return response

            ttfts: list[float | None] = []
            e2es: list[float | None] = []
            for index in range(n):
                result = await timed_request(send, index, clock=clock, sink=sink)
                ttfts.append(result.metrics.ttft_s)
                e2es.append(result.metrics.e2e_s)
            ttft_drift, e2e_drift = drift(ttfts), drift(e2es)
            most_common = max((outputs.count(o) for o in set(outputs)), default=0)
            notes = [
                f"TTFT second half vs first half: {_percent(ttft_drift.relative_change)}; "
                f"E2E: {_percent(e2e_drift.relative_change)}",
                f"{len(set(outputs))} distinct outputs in {len(outputs)} replies at temperature 0",
            ]
            figures: dict[str, Any] = {}
            for name, values in (("ttft", ttft_drift), ("e2e", e2e_drift)):
                for key, value in values.to_dict().items():
                    figures[f"{name}_{key}"] = value
            return {
                "figures": {
                    **figures,
                    "identical_output_share": most_common / len(outputs) if outputs else None,
                    "distinct_outputs": len(set(outputs)),
                    "output_tokens_min": min(tokens, default=None),
                    "output_tokens_max": max(tokens, default=None),
                    "output_tokens_stddev": statistics.stdev(tokens) if len(tokens) > 1 else None,
                },
                "notes": notes,
            }

        return await self._run("consistency", {"n": n, "prompt": text}, body, pool=1)

    async def run_token_stress_test(
        self, sizes: Sequence[int], *, output_tokens: int = 16
    ) -> TestStats:
        """Serial prompts of ``sizes`` tokens (as the server counts them), salted at the start;
        prefill speed against length. Sizes beyond the server's context are reported, not sent."""
        if not sizes or any(size < 1 for size in sizes):
            raise ValueError(f"token sizes must be whole numbers >= 1, got {list(sizes)}")
        limit = await context_length(self.server, self.model, api_key=self.api_key)
        rng = random.Random(self.seed)

        async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> dict[str, Any]:
            rows: list[dict[str, Any]] = []
            for position, target in enumerate(sizes):
                if limit is not None and target + output_tokens > limit:
                    rows.append(
                        {
                            "target_tokens": target,
                            "error": (
                                f"{target} prompt tokens + {output_tokens} output tokens "
                                f"exceed the server's context of {limit} tokens per request"
                            ),
                        }
                    )
                    continue
                rows.append(
                    await self._one_size(client, clock, sink, position, target, output_tokens, rng)
                )
            return {"tables": {"sizes": rows}, "figures": {"context_limit_tokens": limit}}

        params = {"sizes": list(sizes), "output_tokens": output_tokens}
        return await self._run("token_stress", params, body, pool=1)

    async def _one_size(
        self,
        client: ModelClient,
        clock: RunClock,
        sink: JsonlSink,
        position: int,
        target: int,
        output_tokens: int,
        rng: random.Random,
    ) -> dict[str, Any]:
        """Calibrate a prompt to ``target`` server tokens (warm-up records), then measure it."""
        words = max(1, round(target * WORDS_PER_TOKEN))
        counted: int | None = None
        source = "estimate"
        for step in range(CALIBRATION_STEPS):
            prompt = long_prompt(words, f"size {target} try {step} seed {self.seed}", rng)

            async def probe(_: int, text: str = prompt) -> ChatResponse:
                return await client.complete(self._messages(text), max_tokens=1)

            result = await timed_request(probe, -1, clock=clock, sink=sink, warmup=True)
            if not result.ok:
                return {"target_tokens": target, "error": result.error}
            counted = result.metrics.prompt_tokens
            source = result.metrics.prompt_tokens_source or "estimate"
            if counted is None or source == "estimate":
                break
            if abs(counted - target) <= CALIBRATION_TOLERANCE * target:
                break
            words = max(1, round(words * target / counted))
        final = long_prompt(words, f"size {target} measured seed {self.seed}", rng)

        async def measured(_: int) -> ChatResponse:
            return await client.complete(self._messages(final), max_tokens=output_tokens)

        result = await timed_request(measured, position, clock=clock, sink=sink)
        m = result.metrics
        prefill = m.server_prefill_tps
        if prefill is None and m.prompt_tokens and m.ttft_s:
            prefill = m.prompt_tokens / m.ttft_s
        return {
            "target_tokens": target,
            "prompt_tokens": m.prompt_tokens,
            "count_source": m.prompt_tokens_source or source,
            "cached_tokens": m.cached_tokens,
            "ttft_s": m.ttft_s,
            "prefill_tps": prefill,
            "decode_tps": m.decode_tps,
            "error": result.error,
        }

    async def run_realistic_user_test(
        self,
        arrival_rate: float,
        profile: str = "mixed",
        duration: float = 60.0,
        *,
        think_median_s: float = 2.0,
        think_sigma: float = 0.6,
        max_sessions: int | None = None,
    ) -> TestStats:
        """Poisson session arrivals (per second); multi-turn sessions with growing context,
        log-normal think time between turns, mixed prompt and output lengths."""
        if not arrival_rate > 0:
            raise ValueError(f"arrival rate must be > 0 sessions per second, got {arrival_rate}")
        if not duration > 0:
            raise ValueError(f"duration must be > 0 seconds, got {duration}")
        depth = session_profile(profile)
        rng = random.Random(self.seed)
        turns_run: list[int] = []

        async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> dict[str, Any]:
            end_ns = clock.t0_ns + int(duration * 1e9)

            async def session(session_id: int, due_ns: int) -> None:
                history: list[dict[str, Any]] = []
                n_turns = depth.turns(rng)
                scheduled_ns = due_ns
                done = 0
                for turn in range(n_turns):
                    text = rng.choice(SHORT_PROMPTS) if turn == 0 else rng.choice(FOLLOW_UPS)
                    limit = rng.choices([t for _, t in OUTPUT_MIX], [w for w, _ in OUTPUT_MIX])[0]
                    replies: list[ChatResponse] = []

                    async def send(
                        _: int,
                        text: str = text,
                        limit: int = limit,
                        history: list[dict[str, Any]] = history,
                        replies: list[ChatResponse] = replies,
                    ) -> ChatResponse:
                        messages = self._messages(text, history)
                        reply = await client.complete(messages, max_tokens=limit)
                        replies.append(reply)
                        return reply

                    result = await timed_request(
                        send,
                        session_id * 1000 + turn,
                        clock=clock,
                        sink=sink,
                        scheduled_ns=scheduled_ns,
                        session_id=session_id,
                        turn=turn,
                    )
                    done += 1
                    if not result.ok or not replies:
                        break
                    history += [
                        {"role": "user", "content": text},
                        {"role": "assistant", "content": replies[0].content},
                    ]
                    think_s = rng.lognormvariate(math.log(think_median_s), think_sigma)
                    scheduled_ns = time.perf_counter_ns() + int(think_s * 1e9)
                    if scheduled_ns >= end_ns:
                        break
                    await asyncio.sleep(think_s)
                turns_run.append(done)

            sessions = await run_sessions(
                session,
                arrival_offsets_s(arrival_rate, "poisson", seed=self.seed),
                clock=clock,
                duration_s=duration,
                max_sessions=max_sessions,
            )
            return {
                "figures": {
                    "sessions": sessions,
                    "turns_per_session_mean": statistics.fmean(turns_run) if turns_run else None,
                    "turns_total": sum(turns_run),
                }
            }

        params = {
            "arrival_rate_per_s": arrival_rate,
            "profile": profile,
            "duration_s": duration,
            "think_median_s": think_median_s,
            "think_sigma": think_sigma,
            "max_sessions": max_sessions,
        }
        return await self._run("realistic_user", params, body, pool=64)

    async def run_tool_bench_test(self, tier: str = "quick", concurrency: int = 4) -> TestStats:
        """The tool bench at ``concurrency``: pass rate next to per-turn latency."""
        from pytest_llmserver.toolbench import TIERS, builtin_tasks, run_toolbench

        if tier != "all" and tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r} (all, {', '.join(TIERS)})")
        tasks = [t for t in builtin_tasks() if tier in ("all", t.tier)]

        async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> dict[str, Any]:
            run = await run_toolbench(client, tasks, concurrency=concurrency)
            for result in run.results.values():
                for trajectory, _ in result.trials:
                    for step in trajectory.steps:
                        sink.write(
                            {
                                "ok": True,
                                "warmup": False,
                                "ttft_s": step.ttft_s,
                                "e2e_s": step.latency_s,
                                "output_tokens": step.output_tokens,
                                "task_id": trajectory.task_id,
                                "step": step.index,
                            }
                        )
                    if trajectory.error:
                        sink.write(
                            {
                                "ok": False,
                                "warmup": False,
                                "error_class": trajectory.error_class,
                                "error": trajectory.error,
                                "task_id": trajectory.task_id,
                            }
                        )
            rows = [
                {"tier": r.tier, "tasks": r.tasks, "pass_rate": r.pass_at_1}
                for r in run.summaries()
            ]
            return {
                "tables": {"tool_bench": rows},
                "figures": {
                    "pass_rate": rows[-1]["pass_rate"] if rows else None,
                    "tool_bench_wall_s": run.wall_s,
                },
            }

        params = {"tier": tier, "concurrency": concurrency, "tasks": len(tasks)}
        return await self._run("tool_bench", params, body, pool=concurrency)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"
