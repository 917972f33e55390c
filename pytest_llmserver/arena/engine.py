"""The run both arenas share: answer every question, then judge every pair in both orders."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

from pytest_llmserver.arena.judge import judge_messages, parse_verdict
from pytest_llmserver.arena.prompts import TEST_QUESTIONS
from pytest_llmserver.arena.results import (
    ArenaMatchup,
    ArenaResult,
    JudgeResult,
    PromptResponse,
    compute_stats,
    matchup_outcome,
)
from pytest_llmserver.client import ChatResponse, ModelClient, describe_failure, strip_thinking

#: ``on_transcript(kind, messages, result)``: kind is "answer" or "judge"; ``messages`` is
#: the list sent plus the assistant reply (absent when the request failed).
TranscriptHook = Callable[[str, list[dict[str, Any]], "PromptResponse | JudgeResult"], None]


class ArenaOptions(TypedDict, total=False):
    """Keyword options both arenas take, all optional.

    ``questions``: ``[{"id", "question", ...}]`` (default :data:`TEST_QUESTIONS`);
    ``concurrency``: requests in flight at once (default 4); ``max_tokens``: answer limit
    (default 256); ``judge_max_tokens``: verdict limit (default 256); ``seed``: seeds the
    A/B order and the blind labels (default 0); ``on_transcript``: a :data:`TranscriptHook`.
    """

    questions: Sequence[dict[str, Any]] | None
    concurrency: int
    max_tokens: int
    judge_max_tokens: int
    seed: int
    on_transcript: TranscriptHook | None


_T = TypeVar("_T")


@dataclass(frozen=True)
class Contestant:
    """One side of the matchups: a name, the client that answers, its system prompt."""

    name: str
    client: ModelClient
    system_prompt: str | None


def _check_questions(questions: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    chosen = [dict(q) for q in (TEST_QUESTIONS if questions is None else questions)]
    if not chosen:
        raise ValueError("the arena needs at least one question")
    seen: set[str] = set()
    for question in chosen:
        qid, text = question.get("id"), question.get("question")
        if not isinstance(qid, str) or not qid or not isinstance(text, str) or not text:
            raise ValueError(f"a question needs non-empty 'id' and 'question' strings: {question}")
        if qid in seen:
            raise ValueError(f"duplicate question id {qid!r}")
        seen.add(qid)
    return chosen


def same_model(a: ModelClient, b: ModelClient) -> bool:
    """Whether two clients talk to the same model on the same server."""
    return a is b or (a.model == b.model and a.server.url == b.server.url)


def _reply_message(response: ChatResponse) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.content}
    if response.reasoning:
        message["reasoning"] = response.reasoning
    return message


@dataclass(frozen=True)
class RunOptions:
    """What both arenas are run with: :class:`ArenaOptions` checked, defaults filled in."""

    questions: list[dict[str, Any]]
    concurrency: int
    max_tokens: int
    judge_max_tokens: int
    seed: int
    on_transcript: TranscriptHook | None

    @classmethod
    def checked(cls, options: ArenaOptions) -> RunOptions:
        """The options checked: no unknown names, ``concurrency`` >= 1, valid questions."""
        unknown = sorted(set(options) - set(ArenaOptions.__annotations__))
        if unknown:
            raise TypeError(f"unknown arena option(s): {', '.join(unknown)}")
        concurrency = options.get("concurrency", 4)
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        return cls(
            questions=_check_questions(options.get("questions")),
            concurrency=concurrency,
            max_tokens=options.get("max_tokens", 256),
            judge_max_tokens=options.get("judge_max_tokens", 256),
            seed=options.get("seed", 0),
            on_transcript=options.get("on_transcript"),
        )


class Engine:
    """The shared run: bounded concurrent generation, then bounded concurrent judging."""

    def __init__(
        self,
        *,
        kind: str,
        contestants: Sequence[Contestant],
        judge: ModelClient,
        options: RunOptions,
        labels: dict[str, str],
        warnings: list[str],
    ) -> None:
        self.kind = kind
        self.contestants = list(contestants)
        self.judge = judge
        self.options = options
        self.questions = options.questions
        self.labels = labels
        self.warnings = warnings

    async def run(self) -> ArenaResult:
        """Answer, judge, tally."""
        start = time.perf_counter()
        semaphore = asyncio.Semaphore(self.options.concurrency)

        async def bounded(job: Awaitable[_T]) -> _T:
            async with semaphore:
                return await job

        answers = [
            self._answer(contestant, question)
            for question in self.questions
            for contestant in self.contestants
        ]
        responses = list(await asyncio.gather(*(bounded(a) for a in answers)))
        by_key = {(r.contestant, r.question_id): r for r in responses}
        texts = {q["id"]: str(q["question"]) for q in self.questions}
        rng = random.Random(self.options.seed)
        matchups: list[ArenaMatchup] = []
        skipped = 0
        for question in self.questions:
            qid = question["id"]
            for one, two in itertools.combinations(self.contestants, 2):
                left, right = (one, two) if rng.random() < 0.5 else (two, one)
                if by_key[left.name, qid].error or by_key[right.name, qid].error:
                    skipped += 1
                    continue
                matchups.append(ArenaMatchup(question_id=qid, left=left.name, right=right.name))
        jobs = [
            self._judge(texts[m.question_id], by_key[a, m.question_id], by_key[b, m.question_id])
            for m in matchups
            for a, b in ((m.left, m.right), (m.right, m.left))
        ]
        verdicts = list(await asyncio.gather(*(bounded(j) for j in jobs)))
        for index, matchup in enumerate(matchups):
            matchup.verdicts = verdicts[2 * index : 2 * index + 2]
            matchup.outcome = matchup_outcome(matchup.verdicts)
        self._add_warnings(responses, skipped)
        names = [c.name for c in self.contestants]
        return ArenaResult(
            kind=self.kind,
            contestants=names,
            labels=dict(self.labels),
            questions=self.questions,
            responses=responses,
            matchups=matchups,
            stats=compute_stats(names, matchups, responses),
            judge_model=self.judge.model,
            seed=self.options.seed,
            wall_s=time.perf_counter() - start,
            warnings=self.warnings,
        )

    def _add_warnings(self, responses: list[PromptResponse], skipped: int) -> None:
        failed = sum(1 for r in responses if r.error)
        if failed:
            self.warnings.append(
                f"{failed} answer(s) failed; {skipped} matchup(s) involving them were skipped"
            )
        empty = sum(1 for r in responses if not r.error and not r.text)
        if empty:
            self.warnings.append(
                f"{empty} answer(s) were empty (reasoning only or no output) and were judged so"
            )

    def _transcript(
        self, kind: str, messages: list[dict[str, Any]], result: PromptResponse | JudgeResult
    ) -> None:
        if self.options.on_transcript is None:
            return
        try:
            self.options.on_transcript(kind, messages, result)
        except Exception as exc:  # a transcript that cannot be kept must not stop the arena
            self.warnings.append(f"a {kind} transcript was not kept: {describe_failure(exc)}")

    async def _answer(self, contestant: Contestant, question: dict[str, Any]) -> PromptResponse:
        messages: list[dict[str, Any]] = []
        if contestant.system_prompt:
            messages.append({"role": "system", "content": contestant.system_prompt})
        messages.append({"role": "user", "content": str(question["question"])})
        record = PromptResponse(contestant=contestant.name, question_id=question["id"], text="")
        try:
            response = await contestant.client.complete(
                messages, max_tokens=self.options.max_tokens
            )
            metrics = response.metrics
            record.text = strip_thinking(response.content)
            record.ttft_s = metrics.ttft_s
            record.decode_tps = metrics.decode_tps
            record.output_tokens = metrics.output_tokens
            record.e2e_s = metrics.e2e_s
            reply = _reply_message(response)
        except Exception as exc:  # any failure of one answer is that answer's error
            record = PromptResponse(
                contestant=contestant.name,
                question_id=question["id"],
                text="",
                error=describe_failure(exc),
            )
            self._transcript("answer", messages, record)
            return record
        self._transcript("answer", [*messages, reply], record)
        return record

    async def _judge(
        self, question: str, first: PromptResponse, second: PromptResponse
    ) -> JudgeResult:
        messages = judge_messages(question, first.text, second.text)
        result = JudgeResult(
            question_id=first.question_id, first=first.contestant, second=second.contestant
        )
        try:
            response = await self.judge.complete(messages, max_tokens=self.options.judge_max_tokens)
            result.raw = response.content
            verdict, why = parse_verdict(response.content)
            reply = _reply_message(response)
        except Exception as exc:  # any failure of one judging is that verdict's error
            result.raw, result.error = "", describe_failure(exc)
            self._transcript("judge", messages, result)
            return result
        if verdict is None:
            result.error = f"unparseable: {why}"
        else:
            result.parsed = True
            result.winner = verdict["winner"]
            result.score_a = verdict["score_a"]
            result.score_b = verdict["score_b"]
            result.reason = verdict["reason"]
        self._transcript("judge", [*messages, reply], result)
        return result
