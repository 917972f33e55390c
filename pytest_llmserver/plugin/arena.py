"""The arenas under pytest: contestants and judge from the options, reports, transcripts."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest

from pytest_llmserver.arena import (
    TEST_QUESTIONS,
    ArenaResult,
    ModelArena,
    PromptArena,
    TranscriptHook,
    write_arena_report,
)
from pytest_llmserver.client import ModelClient, ServerRecord
from pytest_llmserver.discovery import probe_url
from pytest_llmserver.plugin.sessions import Target
from pytest_llmserver.report import ChatHistoryManager
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


class ArenaSession:
    """Runs the prompt and model arenas against the session's target."""

    def __init__(self, target: Target) -> None:
        self.target = target

    @property
    def judge_model(self) -> str:
        """``--llm-judge-model``; else the simulator's fair judge, or the model under test."""
        target = self.target
        chosen = target.settings.arena.judge_model
        if chosen:
            return chosen
        server = target.settings.target.server
        return JUDGE_FAIR if server is not None and server.mode == "sim" else target.model

    def _judge(self) -> ModelClient:
        return self.target.client(model=self.judge_model, temperature=0.0)

    def _options(self, tag: str) -> dict[str, Any]:
        """What both arenas are run with."""
        s = self.target.settings
        return {
            "questions": arena_questions(s.arena.arena_questions),
            "concurrency": s.run.concurrency,
            "max_tokens": s.run.max_tokens or 256,
            "seed": s.run.seed,
            "on_transcript": self._transcripts(tag),
        }

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
                f"the model arena needs 2 to 6 models; {self.target.server.url} offers "
                f"{len(contestants)} besides the judge (pass --llm-arena-models=A,B)"
            )
        try:
            result = asyncio.run(self._models(contestants))
        except ValueError as exc:
            pytest.fail(f"model arena: {exc}", pytrace=False)
        return self._finish(result, "models")

    async def _prompts(self) -> ArenaResult:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(self.target.client())
            judge = None
            if self.judge_model != self.target.model:
                judge = await stack.enter_async_context(self._judge())
            arena = PromptArena(
                client,
                judge=judge,
                prompts=self.target.settings.arena.arena_prompts,
                **self._options("arena-prompts"),
            )
            return await arena.run()

    def _contestants(self) -> list[tuple[str, ServerRecord, str]]:
        """(display name, server, model) of each contestant."""
        target = self.target
        chosen = target.settings.arena.arena_models
        if chosen:
            found = []
            for item in chosen:
                name, _, url = item.partition("@")
                server = target.server if not url else asyncio.run(self._probe(url))
                found.append((item, server, name))
            return found
        names = [m for m in target.server.models if m != self.judge_model and m not in JUDGE_MODELS]
        return [(m, target.server, m) for m in names[:DEFAULT_MODEL_COUNT]]

    async def _probe(self, url: str) -> ServerRecord:
        return await probe_url(url, api_key=self.target.settings.target.api_key, timeout_s=30.0)

    async def _models(self, contestants: list[tuple[str, ServerRecord, str]]) -> ArenaResult:
        async with AsyncExitStack() as stack:
            clients = [
                (name, await stack.enter_async_context(self.target.client(server, model)))
                for name, server, model in contestants
            ]
            judge = await stack.enter_async_context(self._judge())
            arena = ModelArena(clients, judge=judge, **self._options("arena-models"))
            return await arena.run()

    def _transcripts(self, tag: str) -> TranscriptHook | None:
        target = self.target
        if not target.settings.run.save_transcripts:
            return None
        history = ChatHistoryManager(target.reports_dir() / "transcripts")

        def save(kind: str, messages: list[dict[str, Any]], outcome: Any) -> None:
            model = self.judge_model if kind == "judge" else str(getattr(outcome, "contestant", ""))
            target.save_transcript(
                history,
                messages,
                model or target.model,
                (tag, kind, str(getattr(outcome, "question_id", ""))),
            )

        return save

    def _finish(self, result: ArenaResult, name: str) -> ArenaResult:
        md_path, _ = write_arena_report(
            result, self.target.reports_dir(), name, redactor=self.target.recorder.redactor
        )
        self.target.recorder.add_arena(result, md_path)
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
