"""Consistency mode: one prompt n times in a row at temperature 0 (spread, drift, divergence)."""

from __future__ import annotations

import hashlib
import statistics
from typing import Any

from pytest_llmserver.client import ChatMetrics, ChatResponse, ModelClient
from pytest_llmserver.stress.dataset import PromptRow
from pytest_llmserver.stress.engine import timed_request
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.summary import Drift, drift
from pytest_llmserver.stress.timing import RunClock
from pytest_llmserver.stress.workload import SHORT_PROMPTS


async def run_consistency_test(
    tester: TesterBase,
    n: int | str | None = None,
    prompt: str | int | None = None,
    notes: str = "",
    *,
    iterations: int | None = None,
) -> TestStats:
    """One prompt ``n`` times in a row (temperature 0): spread, drift, output divergence.

    Our form ``(n, prompt=None)`` and the seed's ``(prompt, iterations, notes="")`` both work
    (the type of the first argument tells them apart); the prompt defaults to the tester's
    dataset's first row (its history and reply length too), else the first short prompt;
    ``notes`` (free text) lead the run's ``TestStats.notes``. Each request carries
    its own salt before the prompt, so no reply is prefilled from the previous one's cache.
    """
    if isinstance(n, str):
        text: int | str | None = n
        count: int | str | None = iterations if prompt is None else prompt
    else:
        text, count = prompt, n if n is not None else iterations
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError(f"consistency needs a whole number of requests, got {count!r}")
    if text is not None and not isinstance(text, str):
        raise ValueError(f"the consistency prompt must be text, got {text!r}")
    row = _first_row(tester) if text is None else None
    return await _run(tester, count, row or PromptRow(text or SHORT_PROMPTS[0]), notes)


def _first_row(tester: TesterBase) -> PromptRow | None:
    """The dataset's first row, when the tester has a dataset."""
    return tester.dataset.rows[0] if tester.dataset is not None else None


async def _run(tester: TesterBase, n: int, row: PromptRow, notes: str) -> TestStats:
    text = row.text
    if n < 2:
        raise ValueError(f"consistency needs n >= 2 requests, got {n}")
    outputs: list[str] = []
    tokens: list[int] = []
    blank: list[int] = []

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        client.temperature = 0.0

        async def send(index: int) -> ChatResponse:
            response = await tester.send_shaped(
                client, text, index, row.output_tokens, row.history, body="consistency"
            )
            outputs.append(hashlib.sha256(response.content.encode()).hexdigest()[:16])
            if response.content.strip() or response.reasoning.strip():
                tokens.append(response.metrics.output_tokens)
            else:  # a blank reply's few tokens say nothing of decode speed
                blank.append(index)
                _drop_speed(response.metrics)
            return response

        ttfts: list[float | None] = []
        e2es: list[float | None] = []
        decode: list[float | None] = []  # None for blank replies: dropped from the drift
        for index in range(n):
            result = await timed_request(send, index, clock=clock, sink=sink)
            ttfts.append(result.metrics.ttft_s)
            e2es.append(result.metrics.e2e_s)
            decode.append(result.metrics.decode_tps)
        drifts = {"ttft": drift(ttfts), "e2e": drift(e2es), "decode_tps": drift(decode)}
        output = _output(drifts, outputs, tokens, notes)
        if blank:
            output.notes.insert(
                1 if notes else 0,  # the caller's notes lead
                f"warning: {len(blank)} of {n} replies were empty or whitespace only; their "
                "decode speed and token counts are left out of the statistics",
            )
        output.figures["blank_replies"] = len(blank)
        return output

    return await tester.run_mode("consistency", {"n": n, "prompt": text}, body, pool=1)


def _output(
    drifts: dict[str, Drift], outputs: list[str], tokens: list[int], notes: str
) -> ModeOutput:
    """Figures and notes of a consistency run: drift (TTFT, E2E, decode speed), output
    divergence, token spread."""
    most_common = max((outputs.count(o) for o in set(outputs)), default=0)
    lines = [
        f"TTFT second half vs first half: {_percent(drifts['ttft'].relative_change)}; "
        f"E2E: {_percent(drifts['e2e'].relative_change)}; decode speed: "
        f"{_percent(drifts['decode_tps'].relative_change)}",
        f"{len(set(outputs))} distinct outputs in {len(outputs)} replies at temperature 0",
    ]
    figures: dict[str, Any] = {}
    for name, values in drifts.items():
        for key, value in values.to_dict().items():
            figures[f"{name}_{key}"] = value
    figures.update(
        identical_output_share=most_common / len(outputs) if outputs else None,
        distinct_outputs=len(set(outputs)),
        output_tokens_min=min(tokens, default=None),
        output_tokens_max=max(tokens, default=None),
        output_tokens_stddev=statistics.stdev(tokens) if len(tokens) > 1 else None,
    )
    return ModeOutput(figures=figures, notes=[notes, *lines] if notes else lines)


def _drop_speed(metrics: ChatMetrics) -> None:
    """Take the decode-speed figures out of a blank reply's metrics (its record keeps the
    rest)."""
    metrics.decode_tps = metrics.tpot_s = metrics.server_decode_tps = None
    metrics.itl_s = []


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"
