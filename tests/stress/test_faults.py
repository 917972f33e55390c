"""Every stress mode with faults mixed into successes: any exception of one request is one failed
record, a cancellation ends the run with a partial report, and nothing is ever lost:
records written == requests sent, failed == records with an error."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.client import (
    CANCELLED,
    ERROR_CLASSES,
    INTERNAL,
    ChatMetrics,
    LLMHTTPStatusError,
    ModelClient,
)
from pytest_llmserver.stress import StressTester, TestStats, iter_records
from pytest_llmserver.stress.modes import token_stress
from tests.stress.fakes import INTERNAL_TYPES, FaultyClient

Run = Callable[[StressTester], Coroutine[Any, Any, TestStats]]

MODES: dict[str, Run] = {
    "throughput": lambda t: t.run_throughput_test(concurrency=4, total=40),
    "sustained": lambda t: t.run_sustained_load_test(rpm=6000, duration=0.6),
    "consistency": lambda t: t.run_consistency_test(30),
    "token_stress": lambda t: t.run_token_stress_test([40 * k for k in range(1, 16)]),
    "realistic_user": lambda t: t.run_realistic_user_test(
        40.0, "long", duration=0.6, think_median_s=0.005
    ),
    "tool_bench": lambda t: t.run_tool_bench_test("all", concurrency=4),
}


class FakeTester(StressTester):
    """A ``StressTester`` that sends through a ``FaultyClient``."""

    def __init__(
        self, fake: FaultyClient, out_dir: Path, url: str = "http://127.0.0.1:9", **kwargs: Any
    ) -> None:
        super().__init__({"url": url}, "fake", max_tokens=8, out_dir=out_dir, **kwargs)
        self.fake = fake

    def client(self, pool: int) -> ModelClient:
        return self.fake  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def no_context_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    async def unknown(*args: object, **kwargs: object) -> None:
        return None

    monkeypatch.setattr(token_stress, "context_length", unknown)


def all_records(path: Path) -> list[dict[str, Any]]:
    return [record for chunk in iter_records(path) for record in chunk]


def check_invariant(
    stats: TestStats, fake: FaultyClient, also: Counter[str] | None = None
) -> list[dict[str, Any]]:
    """Records == requests sent; each failure carries its class; ``failed`` counts them all."""
    records = all_records(stats.records_path)
    assert len(records) == fake.calls  # records written == requests sent
    failed = [r for r in records if not r["ok"]]
    assert all(r["error_class"] is None and r["error"] is None for r in records if r["ok"])
    assert all(r["error_class"] in ERROR_CLASSES and r["error"] for r in failed)
    assert Counter(r["error_class"] for r in failed) == fake.raised + (also or Counter())
    measured_failed = [r for r in failed if not r["warmup"]]
    assert stats.failed == stats.summary.failed == len(measured_failed)
    assert stats.summary.total == len(records)
    assert stats.summary.errors[INTERNAL] == sum(
        r["error_class"] == INTERNAL for r in measured_failed
    )
    for record in failed:
        if record["error_class"] == INTERNAL:
            assert re.match(rf"^({'|'.join(INTERNAL_TYPES)}): \S", record["error"]), record
    return records


@pytest.mark.parametrize("mode", list(MODES))
async def test_every_mode_records_every_fault_and_finishes(mode: str, tmp_path: Path) -> None:
    # Token stress sends 3 requests per size (2 calibration probes): every 3rd call failing
    # would fail every measured one.
    fake = FaultyClient(every=5 if mode == "token_stress" else 3)
    tester = FakeTester(fake, tmp_path)
    stats = await MODES[mode](tester)
    records = check_invariant(stats, fake)
    assert fake.raised[INTERNAL] >= 6  # every kind of fault was mixed in
    assert fake.raised["timeout"] >= 1
    assert stats.failed > 0
    assert stats.success > 0
    assert not stats.interrupted
    timeouts = [r for r in records if r["error_class"] == "timeout"]
    assert all(r["ttft_s"] == 0.5 and r["output_tokens"] == 3 for r in timeouts)  # partial kept
    assert tester.stats is stats
    names = {p.name for p in tmp_path.iterdir()}  # noqa: ASYNC240
    assert {f"stress-{mode}.md", f"stress-{mode}.json", f"stress-{mode}.jsonl"} <= names


async def test_a_failing_reply_handler_is_a_failed_record(tmp_path: Path) -> None:
    """Consistency hashes each reply inside the request: a reply that breaks it (content that
    is not text) is an internal failure of that request, not an aborted run."""
    fake = FaultyClient(every=0, bad_replies=(3, 6))
    stats = await FakeTester(fake, tmp_path).run_consistency_test(8)
    records = check_invariant(stats, fake, also=Counter({INTERNAL: 2}))
    bad = [r for r in records if not r["ok"]]
    assert [r["index"] for r in bad] == [2, 5]  # warm-up was call 0
    assert all(r["error"].startswith("AttributeError: 'int' object") for r in bad)
    assert stats.figures["distinct_outputs"] == 6


async def test_a_failing_agent_turn_is_a_failed_record(tmp_path: Path) -> None:
    fake = FaultyClient(every=0, bad_replies=(2, 4))
    stats = await FakeTester(fake, tmp_path).run_tool_bench_test("quick", concurrency=1)
    records = check_invariant(stats, fake, also=Counter({INTERNAL: 2}))
    bad = [r for r in records if not r["ok"]]
    assert [r["step"] for r in bad] == [1, 1]  # the answering turn, after a tool call
    assert all(r["error"].startswith("TypeError: expected string") for r in bad)
    assert stats.tasks_total == stats.params["tasks"]
    assert stats.tasks_total - stats.tasks_passed >= 2


@pytest.mark.parametrize("mode", list(MODES))
async def test_a_cancelled_request_ends_the_run_with_a_partial_report(
    mode: str, tmp_path: Path
) -> None:
    fake = FaultyClient(cancel_at=9)
    tester = FakeTester(fake, tmp_path)
    with pytest.raises(asyncio.CancelledError):
        await MODES[mode](tester)
    stats = tester.stats
    assert stats is not None
    assert stats.interrupted
    records = check_invariant(stats, fake)
    assert fake.raised[CANCELLED] >= 1
    assert sum(r["error_class"] == CANCELLED for r in records) == fake.raised[CANCELLED]
    assert any(note.startswith("interrupted:") for note in stats.notes)
    report = (tmp_path / f"stress-{mode}.md").read_text(encoding="utf-8")
    assert "**Interrupted:**" in report
    assert json.loads((tmp_path / f"stress-{mode}.json").read_text())["interrupted"] is True


@pytest.mark.parametrize("mode", ["throughput", "sustained", "realistic_user", "tool_bench"])
async def test_a_run_cancelled_from_outside_records_its_requests_in_flight(
    mode: str, tmp_path: Path
) -> None:
    fake = FaultyClient(delay_s=0.05)
    tester = FakeTester(fake, tmp_path, warmup=0)
    task = asyncio.ensure_future(MODES[mode](tester))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tester.stats is not None
    assert tester.stats.interrupted
    records = check_invariant(tester.stats, fake)
    assert any(r["error_class"] == CANCELLED for r in records)  # in flight when it stopped
    assert all(r["error"] for r in records if r["error_class"] == CANCELLED)


@pytest.mark.parametrize("mode", ["sustained", "tool_bench"])
def test_sigint_leaves_partial_stats_and_every_record(mode: str, tmp_path: Path) -> None:
    """A real SIGINT to a run under ``asyncio.run``: the in-flight requests are recorded as
    cancelled before the file closes; the partial stats are kept, then the interrupt goes on."""
    fake = FaultyClient(delay_s=0.05)
    tester = FakeTester(fake, tmp_path)

    async def main() -> TestStats:
        asyncio.get_running_loop().call_later(0.3, signal.raise_signal, signal.SIGINT)
        return await MODES[mode](tester)

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(main())
    assert tester.stats is not None
    assert tester.stats.interrupted
    records = check_invariant(tester.stats, fake)
    assert any(r["error_class"] == CANCELLED for r in records)
    assert (tmp_path / f"stress-{mode}.md").exists()


async def test_secrets_never_reach_records_or_reports(tmp_path: Path) -> None:
    key, password = "KEY-3f9a2c-never-written", "PW-77ab-never-written"

    url = f"http://user:{password}@127.0.0.1:9"

    def echo() -> BaseException:
        return LLMHTTPStatusError(401, f"invalid api key {key}", url=f"{url}/v1/chat")

    fake = FaultyClient(every=2, faults=[echo, lambda: ValueError(f"saw {key}")])
    tester = FakeTester(fake, tmp_path, url, api_key=key, system_prompt=f"key {key}")
    seen: list[dict[str, Any]] = []
    tester.on_record = lambda record, _: seen.append(record)
    stats = await tester.run_throughput_test(concurrency=2, total=8)
    assert stats.failed == 4
    texts = [p.read_text(encoding="utf-8") for p in tmp_path.iterdir()]  # noqa: ASYNC240
    texts += [json.dumps(stats.to_dict(), default=str), json.dumps(seen)]
    assert len(texts) == 5
    for text in texts:
        assert key not in text
        assert password not in text
    assert "[redacted]" in texts[0] + texts[1] + texts[2]


async def test_suspect_figures_are_counted_and_said(tmp_path: Path) -> None:
    def metrics(n: int) -> ChatMetrics:
        suspect = ["eval_duration_ns", "prompt_tokens"] if n % 4 == 0 else []
        return ChatMetrics(ttft_s=0.001, e2e_s=0.002, output_tokens=4, suspect=suspect)

    fake = FaultyClient(every=0, metrics=metrics)
    stats = await FakeTester(fake, tmp_path, warmup=0).run_throughput_test(2, total=12)
    assert stats.summary.suspect_records == 3
    assert stats.summary.suspect == {"eval_duration_ns": 3, "prompt_tokens": 3}
    line = "3 of 12 records had server figures outside physical ranges"
    assert any(note.startswith(line) for note in stats.notes)
    report = (tmp_path / "stress-throughput.md").read_text(encoding="utf-8")
    top = report.split("## Latency")[0]
    assert f"**Suspect server figures:** {line}" in top
    assert "(eval_duration_ns 3, prompt_tokens 3)" in top


async def test_blank_replies_are_warned_and_left_out_of_speed(tmp_path: Path) -> None:
    """Consistency: whitespace-only replies get a warning note; their decode speed and token
    counts do not enter the statistics (a 2-token blank reply is no speed figure)."""
    fake = FaultyClient(every=0, text=lambda n: " \n" if n % 2 else f"answer {n}")
    stats = await FakeTester(fake, tmp_path).run_consistency_test(6)
    records = [r for r in all_records(stats.records_path) if not r["warmup"]]
    blank = [r for r in records if r["decode_tps"] is None]
    assert len(blank) == stats.figures["blank_replies"] == 3
    assert all(r["ok"] and r["tpot_s"] is None for r in blank)
    assert all(r["decode_tps"] == 3000.0 for r in records if r not in blank)
    speed = stats.summary.metrics.decode_tps
    assert speed is not None
    assert (speed.n, speed.min) == (3, 3000.0)
    assert stats.notes[0] == (
        "warning: 3 of 6 replies were empty or whitespace only; their decode speed and token "
        "counts are left out of the statistics"
    )
    assert stats.figures["output_tokens_stddev"] == 0.0  # the 3 answers' counts only
