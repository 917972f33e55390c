"""The arena under faults: an exception in one answer or one judging is recorded on that
answer or verdict and the arena goes on; a transcript that cannot be kept is a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_llmserver._util import Redactor
from pytest_llmserver.arena import TEST_QUESTIONS, ModelArena, PromptResponse, write_arena_report
from pytest_llmserver.client import LLMHTTPStatusError, ModelClient
from tests.stress.fakes import FaultyClient

VERDICT = json.dumps({"winner": "A", "score_a": 7, "score_b": 3, "reason": "clearer"})


def fake(client: FaultyClient) -> ModelClient:
    return client  # type: ignore[return-value]


async def test_failed_answers_and_judgings_are_recorded_and_the_arena_goes_on() -> None:
    first = FaultyClient(every=0, at={0: lambda: ValueError("bad 'choices'")}, delay_s=0)
    second = FaultyClient(every=0, bad_replies=(1,), delay_s=0)  # its 2nd answer is not text
    judge = FaultyClient(every=0, at={1: lambda: KeyError("winner")}, bad_replies=(3,), delay_s=0)
    judge.text = lambda n: VERDICT
    kept: list[tuple[str, Any]] = []

    def on_transcript(kind: str, messages: list[dict[str, Any]], result: Any) -> None:
        if kind == "judge" and result.error:
            raise RecursionError("maximum recursion depth exceeded")
        kept.append((kind, result))

    arena = ModelArena(
        [("one", fake(first)), ("two", fake(second))],
        judge=fake(judge),
        questions=TEST_QUESTIONS[:4],
        concurrency=1,
        on_transcript=on_transcript,
    )
    result = await arena.run()
    errors = {(r.contestant, r.question_id): r.error for r in result.responses if r.error}
    q = [question["id"] for question in TEST_QUESTIONS[:4]]
    assert errors == {
        ("one", q[0]): "ValueError: bad 'choices'",
        ("two", q[1]): errors[("two", q[1])],
    }
    assert (errors[("two", q[1])] or "").startswith("TypeError: ")
    assert len(result.matchups) == 2  # q2 and q3; the two with a failed answer are skipped
    verdicts = [v for m in result.matchups for v in m.verdicts]
    assert [v.error for v in verdicts] == [None, "KeyError: 'winner'", None, verdicts[3].error]
    assert (verdicts[3].error or "").startswith("TypeError: ")
    assert [m.outcome for m in result.matchups] == ["unparseable", "unparseable"]
    assert judge.calls == 4
    assert "2 answer(s) failed; 2 matchup(s) involving them were skipped" in result.warnings
    lost = "a judge transcript was not kept: RecursionError: maximum recursion depth exceeded"
    assert [w for w in result.warnings if w.startswith("a judge transcript")] == [lost, lost]
    assert sum(kind == "answer" for kind, _ in kept) == 8
    assert all(isinstance(r, PromptResponse) for kind, r in kept if kind == "answer")


async def test_the_report_is_redacted(tmp_path: Path) -> None:
    key = "KEY-8c2b-never-written"
    echo = LLMHTTPStatusError(401, f"invalid api key {key}", url="http://u:PW-2@127.0.0.1:9")
    first = FaultyClient(every=0, at={0: lambda: echo}, delay_s=0)
    second = FaultyClient(every=0, delay_s=0)
    arena = ModelArena(
        [("one", fake(first)), ("two", fake(second))],
        judge=fake(FaultyClient(every=0, delay_s=0)),
        questions=TEST_QUESTIONS[:1],
    )
    result = await arena.run()
    assert key in (result.responses[0].error or "")
    redactor = Redactor(secrets=[key], urls=["http://u:PW-2@127.0.0.1:9"])
    md_path, json_path = write_arena_report(result, tmp_path, "models", redactor=redactor)
    assert "HTTP 401 from http://u:[redacted]@" in json_path.read_text(encoding="utf-8")
    for path in (md_path, json_path):
        text = path.read_text(encoding="utf-8")
        assert key not in text
        assert "PW-2" not in text
