"""The prompt arena and the model arena: answer every question, then judge every pair twice."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pytest_llmserver.arena.judge import judge_messages, parse_verdict
from pytest_llmserver.arena.prompts import SYSTEM_PROMPTS, TEST_QUESTIONS
from pytest_llmserver.arena.results import (
    SELF_JUDGE_WARNING,
    ArenaMatchup,
    ArenaResult,
    JudgeResult,
    PromptResponse,
    compute_stats,
    matchup_outcome,
)
from pytest_llmserver.client import ChatResponse, LLMError, ModelClient, strip_thinking

#: ``on_transcript(kind, messages, result)``: kind is "answer" or "judge"; ``messages`` is
#: the list sent plus the assistant reply (absent when the request failed).
TranscriptHook = Callable[[str, list[dict[str, Any]], "PromptResponse | JudgeResult"], None]

MIN_MODELS = 2
MAX_MODELS = 6

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Contestant:
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


def _same_model(a: ModelClient, b: ModelClient) -> bool:
    return a is b or (a.model == b.model and a.server.url == b.server.url)


def _reply_message(response: ChatResponse) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.content}
    if response.reasoning:
        message["reasoning"] = response.reasoning
    return message


def _error_text(exc: LLMError) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class _Options:
    """What both arenas are run with."""

    questions: list[dict[str, Any]]
    concurrency: int
    max_tokens: int
    judge_max_tokens: int
    seed: int
    on_transcript: TranscriptHook | None

    @classmethod
    def checked(
        cls,
        questions: Sequence[dict[str, Any]] | None,
        concurrency: int,
        max_tokens: int,
        judge_max_tokens: int,
        seed: int,
        on_transcript: TranscriptHook | None,
    ) -> _Options:
        """The options, with the questions checked and ``concurrency`` >= 1."""
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        return cls(
            _check_questions(questions),
            concurrency,
            max_tokens,
            judge_max_tokens,
            seed,
            on_transcript,
        )


class _Engine:
    """The shared run: bounded concurrent generation, then bounded concurrent judging."""

    def __init__(
        self,
        *,
        kind: str,
        contestants: Sequence[_Contestant],
        judge: ModelClient,
        options: _Options,
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
        if self.options.on_transcript is not None:
            self.options.on_transcript(kind, messages, result)

    async def _answer(self, contestant: _Contestant, question: dict[str, Any]) -> PromptResponse:
        messages: list[dict[str, Any]] = []
        if contestant.system_prompt:
            messages.append({"role": "system", "content": contestant.system_prompt})
        messages.append({"role": "user", "content": str(question["question"])})
        record = PromptResponse(contestant=contestant.name, question_id=question["id"], text="")
        try:
            response = await contestant.client.complete(
                messages, max_tokens=self.options.max_tokens
            )
        except LLMError as exc:
            record.error = _error_text(exc)
            self._transcript("answer", messages, record)
            return record
        metrics = response.metrics
        record.text = strip_thinking(response.content)
        record.ttft_s = metrics.ttft_s
        record.decode_tps = metrics.decode_tps
        record.output_tokens = metrics.output_tokens
        record.e2e_s = metrics.e2e_s
        self._transcript("answer", [*messages, _reply_message(response)], record)
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
        except LLMError as exc:
            result.error = _error_text(exc)
            self._transcript("judge", messages, result)
            return result
        result.raw = response.content
        verdict, why = parse_verdict(response.content)
        if verdict is None:
            result.error = f"unparseable: {why}"
        else:
            result.parsed = True
            result.winner = verdict["winner"]
            result.score_a = verdict["score_a"]
            result.score_b = verdict["score_b"]
            result.reason = verdict["reason"]
        self._transcript("judge", [*messages, _reply_message(response)], result)
        return result


class PromptArena:
    """System prompts compete on one model; a judge compares their answers pair by pair."""

    def __init__(
        self,
        client: ModelClient,
        *,
        judge: ModelClient | None = None,
        prompts: Sequence[str] | None = None,
        questions: Sequence[dict[str, Any]] | None = None,
        concurrency: int = 4,
        max_tokens: int = 256,
        judge_max_tokens: int = 256,
        seed: int = 0,
        on_transcript: TranscriptHook | None = None,
    ) -> None:
        keys = list(SYSTEM_PROMPTS) if prompts is None else list(prompts)
        unknown = [k for k in keys if k not in SYSTEM_PROMPTS]
        if unknown:
            raise ValueError(
                f"unknown system prompt(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(SYSTEM_PROMPTS)}"
            )
        if len(set(keys)) != len(keys):
            raise ValueError(f"system prompts listed twice: {keys}")
        if len(keys) < 2:
            raise ValueError("the prompt arena needs at least two system prompts")
        self.client = client
        self.judge = judge if judge is not None else client
        self.prompts = keys
        self.options = _Options.checked(
            questions, concurrency, max_tokens, judge_max_tokens, seed, on_transcript
        )
        self.questions = self.options.questions

    async def run(self) -> ArenaResult:
        """Answer every question with every prompt, then judge every pair in both orders."""
        warnings = [SELF_JUDGE_WARNING] if _same_model(self.judge, self.client) else []
        contestants = [
            _Contestant(key, self.client, SYSTEM_PROMPTS[key]["prompt"]) for key in self.prompts
        ]
        return await _Engine(
            kind="prompts",
            contestants=contestants,
            judge=self.judge,
            options=self.options,
            labels={},
            warnings=warnings,
        ).run()


def blind_labels(names: Sequence[str], seed: int) -> dict[str, str]:
    """``{name: "Model k"}`` with the names shuffled by ``random.Random(seed)``."""
    order = list(names)
    random.Random(seed).shuffle(order)
    return {name: f"Model {i}" for i, name in enumerate(order, 1)}


class ModelArena:
    """Models compete on the same questions; the judge sees only "Answer A" and "Answer B"."""

    def __init__(
        self,
        contestants: Sequence[tuple[str, ModelClient]],
        *,
        judge: ModelClient,
        questions: Sequence[dict[str, Any]] | None = None,
        concurrency: int = 4,
        max_tokens: int = 256,
        judge_max_tokens: int = 256,
        seed: int = 0,
        on_transcript: TranscriptHook | None = None,
    ) -> None:
        entries = list(contestants)
        if not MIN_MODELS <= len(entries) <= MAX_MODELS:
            raise ValueError(
                f"the model arena takes {MIN_MODELS} to {MAX_MODELS} contestants, "
                f"got {len(entries)}"
            )
        names = [name for name, _ in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"contestant names must be unique: {names}")
        self.contestants = entries
        self.judge = judge
        self.options = _Options.checked(
            questions, concurrency, max_tokens, judge_max_tokens, seed, on_transcript
        )
        self.questions = self.options.questions
        self.labels = blind_labels(names, seed)

    async def run(self) -> ArenaResult:
        """Answer every question with every model, then judge every pair in both orders."""
        warnings = [
            f"{SELF_JUDGE_WARNING} (judge {self.judge.model} is contestant {name!r})"
            for name, client in self.contestants
            if _same_model(self.judge, client)
        ]
        contestants = [
            _Contestant(name, client, client.system_prompt) for name, client in self.contestants
        ]
        return await _Engine(
            kind="models",
            contestants=contestants,
            judge=self.judge,
            options=self.options,
            labels=self.labels,
            warnings=warnings,
        ).run()
