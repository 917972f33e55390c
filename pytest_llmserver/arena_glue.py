"""pytest glue of the arenas: contestants and judge from the options, reports, transcripts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from pytest_llmserver.arena import (
    TEST_QUESTIONS,
    ArenaResult,
    JudgeResult,
    ModelArena,
    PromptArena,
    PromptResponse,
    write_arena_report,
)
from pytest_llmserver.client import ModelClient, ServerRecord, Timeouts
from pytest_llmserver.discovery import probe_url
from pytest_llmserver.history import ChatHistoryManager
from pytest_llmserver.run_glue import TargetSession
from pytest_llmserver.servers import JUDGE_FAIR, JUDGE_MODELS

DEFAULT_MODEL_COUNT = 4


def arena_questions(selection: tuple[str, ...]) -> list[dict[str, str]]:
    """``("3",)`` → the first three built-in questions; ids → those questions, in order."""
    if len(selection) == 1 and selection[0].isdigit():
        count = int(selection[0])
        if not 1 <= count <= len(TEST_QUESTIONS):
            raise ValueError(f"--llm-arena-questions: {count} is not in 1..{len(TEST_QUESTIONS)}")
        return TEST_QUESTIONS[:count]
    by_id = {q["id"]: q for q in TEST_QUESTIONS}
    unknown = [q for q in selection if q not in by_id]
    if unknown:
        raise ValueError(
            f"--llm-arena-questions: unknown id(s) {', '.join(unknown)} (known: {', '.join(by_id)})"
        )
    return [by_id[q] for q in selection]


class ArenaSession(TargetSession):
    """Runs the prompt and model arenas against the session's target."""

    @property
    def judge_model(self) -> str:
        """``--llm-judge-model``; else the simulator's fair judge, or the model under test."""
        s = self.settings
        if s.judge_model:
            return s.judge_model
        if s.server is not None and s.server.mode == "sim":
            return JUDGE_FAIR
        return self.model

    def _client(self, server: ServerRecord, model: str, *, judge: bool = False) -> ModelClient:
        s = self.settings
        return ModelClient(
            server,
            model,
            api_key=s.api_key,
            timeouts=Timeouts.from_total(s.timeout_s),
            concurrency=s.concurrency,
            temperature=0.0 if judge else None,
        )

    def run_prompts(self) -> ArenaResult:
        """The prompt arena: ``--llm-arena-prompts`` on the model under test."""
        try:
            result = asyncio.run(self._prompts())
        except ValueError as exc:  # a bad option value, named in the message
            pytest.fail(f"prompt arena: {exc}", pytrace=False)
        return self._finish(result, "prompts")

    def run_models(self) -> ArenaResult:
        """The model arena: ``--llm-arena-models`` (or the server's first models)."""
        contestants = self._contestants()
        if len(contestants) < 2:
            pytest.skip(
                f"the model arena needs 2 to 6 models; {self.server.url} offers "
                f"{len(contestants)} besides the judge (pass --llm-arena-models=A,B)"
            )
        try:
            result = asyncio.run(self._models(contestants))
        except ValueError as exc:
            pytest.fail(f"model arena: {exc}", pytrace=False)
        return self._finish(result, "models")

    async def _prompts(self) -> ArenaResult:
        s = self.settings
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(self._client(self.server, self.model))
            judge = None
            if self.judge_model != self.model:
                judge = await stack.enter_async_context(
                    self._client(self.server, self.judge_model, judge=True)
                )
            arena = PromptArena(
                client,
                judge=judge,
                prompts=s.arena_prompts,
                questions=arena_questions(s.arena_questions),
                concurrency=s.concurrency,
                max_tokens=s.max_tokens or 256,
                seed=s.seed,
                on_transcript=self._transcripts("arena-prompts"),
            )
            return await arena.run()

    def _contestants(self) -> list[tuple[str, ServerRecord, str]]:
        """(display name, server, model) of each contestant."""
        if self.settings.arena_models:
            found = []
            for item in self.settings.arena_models:
                name, _, url = item.partition("@")
                server = self.server if not url else asyncio.run(self._probe(url))
                found.append((item, server, name))
            return found
        names = [m for m in self.server.models if m != self.judge_model and m not in JUDGE_MODELS]
        return [(m, self.server, m) for m in names[:DEFAULT_MODEL_COUNT]]

    async def _probe(self, url: str) -> ServerRecord:
        return await probe_url(url, api_key=self.settings.api_key, timeout_s=30.0)

    async def _models(self, contestants: list[tuple[str, ServerRecord, str]]) -> ArenaResult:
        s = self.settings
        async with AsyncExitStack() as stack:
            clients = [
                (name, await stack.enter_async_context(self._client(server, model)))
                for name, server, model in contestants
            ]
            judge = await stack.enter_async_context(
                self._client(self.server, self.judge_model, judge=True)
            )
            arena = ModelArena(
                clients,
                judge=judge,
                questions=arena_questions(s.arena_questions),
                concurrency=s.concurrency,
                max_tokens=s.max_tokens or 256,
                seed=s.seed,
                on_transcript=self._transcripts("arena-models"),
            )
            return await arena.run()

    def _transcripts(
        self, tag: str
    ) -> Callable[[str, list[dict[str, Any]], PromptResponse | JudgeResult], None] | None:
        if not self.settings.save_transcripts:
            return None
        history = ChatHistoryManager(self._run_dir() / "transcripts")

        def save(kind: str, messages: list[dict[str, Any]], outcome: Any) -> None:
            model = self.judge_model if kind == "judge" else str(getattr(outcome, "contestant", ""))
            history.save(
                messages,
                model or self.model,
                self.server.to_dict(),
                tags=(tag, kind, str(getattr(outcome, "question_id", ""))),
            )

        return save

    def _finish(self, result: ArenaResult, name: str) -> ArenaResult:
        md_path, _ = write_arena_report(result, self._run_dir(), name)
        self.recorder.add_arena(result, md_path)
        return result


def check_arena(result: ArenaResult) -> None:
    """Fail when the arena decided nothing: no answers, or no verdict could be read."""
    if not result.matchups:
        pytest.fail(f"the {result.kind} arena judged nothing: {'; '.join(result.warnings)}", False)
    unreadable = sum(m.outcome == "unparseable" for m in result.matchups)
    if unreadable == len(result.matchups):
        pytest.fail(
            f"judge {result.judge_model} gave no readable verdict in {unreadable} matchups "
            "(see the arena report; pick another with --llm-judge-model)",
            pytrace=False,
        )
