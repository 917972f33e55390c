"""Token-stress mode: serial prompts of growing size, calibrated to the server's own token
count and salted at the start; prefill speed against prompt length."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pytest_llmserver.client import ChatResponse, ModelClient
from pytest_llmserver.discovery import context_length
from pytest_llmserver.stress.engine import timed_request
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.records import TestResult
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.timing import RunClock
from pytest_llmserver.stress.workload import long_prompt

DEFAULT_SIZES: tuple[int, ...] = (500, 1000, 2000, 5000)
"""Prompt sizes in tokens when none are given (the seed's)."""

WORDS_PER_TOKEN = 0.75
CALIBRATION_STEPS = 3
CALIBRATION_TOLERANCE = 0.02


async def run_token_stress_test(
    tester: TesterBase, sizes: Sequence[int] | None = None, *, output_tokens: int = 16
) -> TestStats:
    """Serial prompts of ``sizes`` tokens (default ``DEFAULT_SIZES``, the seed's 500, 1000,
    2000, 5000; as the server counts them), salted at the start: prefill speed against length.
    Sizes beyond the server's context are reported, not sent."""
    sizes = DEFAULT_SIZES if sizes is None else sizes
    if not sizes or any(size < 1 for size in sizes):
        raise ValueError(f"token sizes must be whole numbers >= 1, got {list(sizes)}")
    limit = await context_length(tester.server, tester.model, api_key=tester.api_key)
    rng = random.Random(tester.seed)

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        probe = SizeProbe(tester, client, clock, sink, rng, output_tokens)
        rows: list[dict[str, Any]] = []
        for position, target in enumerate(sizes):
            if limit is not None and target + output_tokens > limit:
                error = (
                    f"{target} prompt tokens + {output_tokens} output tokens "
                    f"exceed the server's context of {limit} tokens per request"
                )
                rows.append({"target_tokens": target, "error": error})
                continue
            rows.append(await probe.measure(position, target))
        return ModeOutput(tables={"sizes": rows}, figures={"context_limit_tokens": limit})

    params = {"sizes": list(sizes), "output_tokens": output_tokens}
    return await tester.run_mode("token_stress", params, body, pool=1)


class SizeProbe:
    """Calibrates a prompt to a target size (warm-up records), then measures it."""

    def __init__(
        self,
        tester: TesterBase,
        client: ModelClient,
        clock: RunClock,
        sink: JsonlSink,
        rng: random.Random,
        output_tokens: int,
    ) -> None:
        self.tester = tester
        self.client = client
        self.clock = clock
        self.sink = sink
        self.rng = rng
        self.output_tokens = output_tokens

    async def _send(self, text: str, index: int, max_tokens: int, warmup: bool) -> TestResult:
        async def send(_: int) -> ChatResponse:
            messages = self.tester.messages(text)
            return await self.client.complete(messages, max_tokens=max_tokens)

        return await timed_request(send, index, clock=self.clock, sink=self.sink, warmup=warmup)

    async def measure(self, position: int, target: int) -> dict[str, Any]:
        """The table row of ``target`` tokens, measured as request ``position``."""
        seed = self.tester.seed
        words = max(1, round(target * WORDS_PER_TOKEN))
        source = "estimate"
        for step in range(CALIBRATION_STEPS):
            prompt = long_prompt(words, f"size {target} try {step} seed {seed}", self.rng)
            result = await self._send(prompt, -1, 1, True)
            if not result.ok:
                return {"target_tokens": target, "error": result.error}
            counted = result.metrics.prompt_tokens
            source = result.metrics.prompt_tokens_source or "estimate"
            if counted is None or source == "estimate":
                break
            if abs(counted - target) <= CALIBRATION_TOLERANCE * target:
                break
            words = max(1, round(words * target / counted))
        final = long_prompt(words, f"size {target} measured seed {seed}", self.rng)
        result = await self._send(final, position, self.output_tokens, False)
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
