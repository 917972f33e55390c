"""Realistic-user mode: Poisson session arrivals; multi-turn sessions with growing context,
log-normal think time between turns, mixed prompt and output lengths."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from typing import Any

from pytest_llmserver.client import ChatResponse, ModelClient
from pytest_llmserver.stress.engine import DEFAULT_MAX_LAG_S, run_sessions, timed_request
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.saturation import schedule_figures
from pytest_llmserver.stress.shaping import Shaped
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.stops import ramp_offsets_s
from pytest_llmserver.stress.timing import RunClock, arrival_offsets_s
from pytest_llmserver.stress.workload import (
    FOLLOW_UPS,
    OUTPUT_MIX,
    SHORT_PROMPTS,
    SessionProfile,
    session_profile,
)


async def run_realistic_user_test(
    tester: TesterBase,
    arrival_rate: float,
    profile: str = "mixed",
    duration: float = 60.0,
    *,
    think_median_s: float = 2.0,
    think_sigma: float = 0.6,
    max_sessions: int | None = None,
    max_lag_s: float | None = DEFAULT_MAX_LAG_S,
    ramp_s: float = 0.0,
    max_error_rate: float | None = None,
    saturation_stop: bool = True,
) -> TestStats:
    """Sessions arrive (Poisson) at ``arrival_rate`` per second for ``duration`` seconds;
    their depth follows ``profile`` (see ``PROFILES``), each turn adds to their context and
    users think a log-normal time between turns.

    A session the scheduler reaches more than ``max_lag_s`` late is shed, and one whose next
    turn comes due more than ``max_lag_s`` before it can be sent ends there (both counted);
    no turn is sent after ``duration``. With ``tester.part = (k, n)`` this process plays
    every n-th session of the one schedule.

    ``ramp_s``: session arrivals first grow linearly from 0 over that time (turns due in it
    recorded as warm-up), then ``duration`` follows; the safety stops as in the sustained
    mode (no new session once one fires)."""
    if not arrival_rate > 0:
        raise ValueError(f"arrival rate must be > 0 sessions per second, got {arrival_rate}")
    if not duration > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration}")
    users = Users(tester, session_profile(profile), think_median_s, think_sigma, max_lag_s)
    part = tester.part
    monitor = tester.stops(max_error_rate=max_error_rate, saturation=saturation_stop)

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        end_ns = clock.t0_ns + int((ramp_s + duration) * 1e9)
        users.ramp_end_ns = clock.t0_ns + int(ramp_s * 1e9)

        async def session(session_id: int, due_ns: int) -> None:
            await users.session(client, clock, sink, session_id, due_ns, end_ns)

        sched = await run_sessions(
            session,
            ramp_offsets_s(arrival_offsets_s(arrival_rate, "poisson", seed=tester.seed), ramp_s),
            clock=clock,
            duration_s=ramp_s + duration,
            max_sessions=max_sessions,
            max_lag_s=max_lag_s,
            part=part,
            stop=monitor,
        )
        tester.schedule = sched
        turns = users.turns_run
        figures = {
            "sessions": sched.scheduled,
            "turns_per_session_mean": statistics.fmean(turns) if turns else None,
            "turns_total": sum(turns),
            "turns_shed": users.turns_shed,
            **schedule_figures(
                sched, arrival_rate / part[1], duration + ramp_s / 2, "sessions_per_s"
            ),
        }
        del figures["blocked_by_max_in_flight"]  # sessions have no in-flight bound
        return ModeOutput(figures=figures)

    params = {
        "arrival_rate_per_s": arrival_rate,
        "profile": profile,
        "duration_s": duration,
        "think_median_s": think_median_s,
        "think_sigma": think_sigma,
        "max_sessions": max_sessions,
        "max_lag_s": max_lag_s,
    }
    if ramp_s or max_error_rate is not None:
        params.update(ramp_s=ramp_s, max_error_rate=max_error_rate)
    return await tester.run_mode("realistic_user", params, body, pool=64)


class Users:
    """Plays sessions: what each user says, how long each thinks, how many turns each takes."""

    def __init__(
        self,
        tester: TesterBase,
        depth: SessionProfile,
        think_median_s: float,
        think_sigma: float,
        max_lag_s: float | None = None,
    ) -> None:
        self.tester = tester
        self.depth = depth
        self.think_median_s = think_median_s
        self.think_sigma = think_sigma
        k, _ = tester.part  # every part draws its own users
        self.rng = random.Random(tester.seed if k == 0 else f"{tester.seed}/{k}")
        self.ramp_end_ns = 0  # turns due before it are the ramp's (warm-up)
        self.max_lag_ns = None if max_lag_s is None else int(max_lag_s * 1e9)
        self.turns_run: list[int] = []
        self.turns_shed = 0

    def opening(self, rng: random.Random) -> tuple[tuple[str, ...], int | None]:
        """What a new user says first: one of the short prompts, or a dataset row's user
        turns as a session script (then follow-ups) and that row's reply length."""
        dataset = self.tester.dataset
        if dataset is None:
            return (rng.choice(SHORT_PROMPTS),), None
        row = dataset.pick(rng)
        return row.script, row.output_tokens

    async def session(
        self,
        client: ModelClient,
        clock: RunClock,
        sink: JsonlSink,
        session_id: int,
        due_ns: int,
        end_ns: int,
    ) -> None:
        """One session from ``due_ns``; no new turn is planned past ``end_ns``."""
        rng = self.rng
        history: list[dict[str, Any]] = []
        scheduled_ns = due_ns
        done = 0
        script, first_tokens = self.opening(rng)
        for turn in range(self.depth.turns(rng)):
            now_ns = time.perf_counter_ns()
            too_late = self.max_lag_ns is not None and now_ns - scheduled_ns > self.max_lag_ns
            if turn and (too_late or now_ns > end_ns):
                self.turns_shed += 1  # it could not be sent in time: the session ends here
                break
            text = script[turn] if turn < len(script) else rng.choice(FOLLOW_UPS)
            limit = rng.choices([t for _, t in OUTPUT_MIX], [w for w, _ in OUTPUT_MIX])[0]
            if turn == 0 and first_tokens is not None:
                limit = first_tokens
            shaped = self.tester.shaped(text, session_id * 1000 + turn, limit, fresh=turn == 0)
            text = shaped.text
            replies: list[ChatResponse] = []

            async def send(
                _: int,
                shaped: Shaped = shaped,
                history: list[dict[str, Any]] = history,
                replies: list[ChatResponse] = replies,
            ) -> ChatResponse:
                messages = self.tester.messages(shaped.text, history)
                reply = await client.complete(
                    messages, max_tokens=shaped.max_tokens, extra_body=shaped.extra_body
                )
                replies.append(reply)
                return reply

            result = await timed_request(
                send,
                session_id * 1000 + turn,
                clock=clock,
                sink=sink,
                scheduled_ns=scheduled_ns,
                warmup=scheduled_ns < self.ramp_end_ns,
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
            think_s = rng.lognormvariate(math.log(self.think_median_s), self.think_sigma)
            scheduled_ns = time.perf_counter_ns() + int(think_s * 1e9)
            if scheduled_ns >= end_ns:
                break
            await asyncio.sleep(think_s)
        self.turns_run.append(done)
