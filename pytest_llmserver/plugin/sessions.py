"""What every pytest-side session (tool bench, stress, arena) works with: the target."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmserver.client import ModelClient, ServerRecord, Timeouts
from pytest_llmserver.gate import ModelFingerprint
from pytest_llmserver.report import ChatHistoryManager
from pytest_llmserver.run import RunRecorder
from pytest_llmserver.settings import Settings


@dataclass(frozen=True)
class Target:
    """The server and model under test, the settings, the run's recorder, and where the
    session's reports go (``reports_dir()`` makes the folder on first use)."""

    server: ServerRecord
    model: str
    settings: Settings
    recorder: RunRecorder
    reports_dir: Callable[[], Path]
    notes: tuple[str, ...] = ()
    """How defaults were fitted to the target (e.g. concurrency from the server's slots)."""

    def save_transcript(
        self,
        history: ChatHistoryManager,
        messages: Sequence[Mapping[str, Any]],
        model: str,
        tags: Sequence[str],
        extra: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        """Save one conversation (as ``name`` when given), redacted like everything the run
        writes; one that cannot be saved (nested too deep, too large) is named in the run log
        and the run goes on."""
        scrub = self.recorder.redactor.scrub
        try:
            history.save(
                scrub(list(messages)),
                model,
                scrub(self.server.to_dict()),
                tags=tags,
                extra=scrub(dict(extra or {})),
                name=name,
            )
        except (TypeError, ValueError) as exc:  # HistoryError is a ValueError
            self.recorder.logger.warning("transcript %s not saved: %s", "/".join(tags), exc)

    def fingerprint(self) -> ModelFingerprint:
        """Record the target with the run; its model fingerprint."""
        return self.recorder.target(self.server, self.model)

    def client(
        self,
        server: ServerRecord | None = None,
        model: str | None = None,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ModelClient:
        """A ``ModelClient`` with the run's key, headers, timeout, concurrency, temperature,
        sampling seed, top_p and extra body (for the target unless another server or model is
        named)."""
        target, run = self.settings.target, self.settings.run
        return ModelClient(
            server or self.server,
            model or self.model,
            api_key=target.api_key,
            timeouts=Timeouts.from_total(target.timeout_s),
            concurrency=run.concurrency,
            temperature=run.temperature if temperature is None else temperature,
            seed=run.sampling_seed,
            max_tokens=max_tokens,
            top_p=run.top_p,
            extra_body=run.extra_body,
            headers=target.header,
        )


def slot_concurrency(server: ServerRecord, settings: Settings) -> int | None:
    """The parallel slots of a llama.cpp server (``local`` included), asked once; None for
    other servers and for one that does not say."""
    if server.kind != "llamacpp":
        return None
    from pytest_llmserver.discovery import server_slots

    return asyncio.run(server_slots(server, api_key=settings.target.api_key))
