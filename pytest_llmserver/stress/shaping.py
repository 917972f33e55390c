"""Requests of the lengths a run asks for: the synthetic prompt, the reply's token limit and
the body fields that fix it, and the requested lengths each record keeps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from pytest_llmserver.client import ChatResponse, ModelClient, ServerRecord
from pytest_llmserver.discovery import context_length
from pytest_llmserver.stress.engine import timed_request
from pytest_llmserver.stress.lengths import TokenLengths, WorkloadError, check_context
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.synthetic import (
    SALT_WORDS,
    Calibration,
    Counter,
    calibrate,
    no_prompt_cache,
    output_control,
    synthetic_text,
    tokenizer_counter,
)
from pytest_llmserver.stress.timing import RunClock

Messages = Callable[[str], list[dict[str, Any]]]


@dataclass
class Shaped:
    """One request's user text, token limit and extra body fields."""

    text: str
    max_tokens: int | None
    extra_body: dict[str, Any] | None


class LengthShaper:
    """Builds requests of the run's ``input_tokens`` / ``output_tokens`` (either may be None)
    on ``server``: prompts from the calibration that ``prepare`` makes once, replies fixed
    where the server can (``output_control``)."""

    def __init__(
        self,
        server: ServerRecord,
        model: str,
        input_tokens: TokenLengths | None,
        output_tokens: TokenLengths | None,
        shared_prefix_tokens: int = 0,
    ) -> None:
        self.server = server
        self.model = model
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.shared_prefix_tokens = shared_prefix_tokens
        self.control = output_control(server)
        self.calibration: Calibration | None = None
        self._checked = False
        self._requested: dict[int, dict[str, int]] = {}

    @property
    def active(self) -> bool:
        """Whether the run asks for any length."""
        return self.input_tokens is not None or self.output_tokens is not None

    async def prepare(
        self,
        messages: Messages,
        by_usage: Counter,
        seed: int | str,
        *,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Check the lengths against the server's context and calibrate the prompts (once):
        with the server's tokenizer where it has one, else with ``by_usage``."""
        if not self._checked:
            limit = await context_length(self.server, self.model, api_key=api_key)
            check_context(self.input_tokens, self.output_tokens, limit)
            self._checked = True
        if self.input_tokens is None or self.calibration is not None:
            return
        auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        async with httpx.AsyncClient(timeout=30.0, headers={**(headers or {}), **auth}) as http:
            counter = await tokenizer_counter(self.server, self.model, http)
            calibration = None
            if counter is not None:
                try:
                    calibration = await calibrate(
                        counter, messages, self.input_tokens.mean, seed, "tokenize"
                    )
                except WorkloadError:
                    calibration = None  # no usable tokenizer route: count by usage instead
        if calibration is None:
            calibration = await calibrate(by_usage, messages, self.input_tokens.mean, seed, "usage")
        calibration.words_for(self.input_tokens.low)  # the shortest prompt must be buildable
        self.calibration = calibration

    async def prepare_run(
        self,
        client: ModelClient,
        clock: RunClock,
        sink: JsonlSink,
        messages: Messages,
        seed: int | str,
        *,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """``prepare`` within a run: requests that count prompt tokens by usage go through
        ``client`` (one token each, the prompt cache off) and are written as warm-up records."""

        async def prompt_tokens(chat: list[dict[str, Any]]) -> int | None:
            async def send(_: int) -> ChatResponse:
                extra = no_prompt_cache(self.server) or None
                return await client.complete(chat, max_tokens=1, extra_body=extra)

            result = await timed_request(send, -1, clock=clock, sink=sink, warmup=True)
            if not result.ok:
                raise WorkloadError(f"a prompt-length calibration request failed: {result.error}")
            return result.metrics.prompt_tokens

        await self.prepare(
            messages, usage_counter(prompt_tokens), seed, api_key=api_key, headers=headers
        )

    def shape(
        self,
        text: str,
        index: int,
        salt_key: str,
        max_tokens: int | None,
        *,
        body: str | None = None,
        fresh: bool = True,
    ) -> Shaped:
        """Request ``index``: with input lengths, a synthetic prompt instead of ``text`` when
        ``fresh`` (not a later turn of a conversation; ``body`` repeats one prompt behind
        different salts); with output lengths, the drawn limit and its control fields."""
        requested: dict[str, int] = {}
        extra: dict[str, Any] = {}
        if self.input_tokens is not None and fresh:
            if self.calibration is None:
                raise RuntimeError("LengthShaper.prepare must run before shape")
            tokens = self.input_tokens.draw(salt_key, index, "input")
            shared = self.shared_words()
            words = self.calibration.words_for(tokens)
            text = synthetic_text(words, salt_key, index, body, shared=shared)
            requested["requested_input_tokens"] = tokens
            if not shared:
                extra.update(no_prompt_cache(self.server))
        if self.output_tokens is not None:
            max_tokens = self.output_tokens.draw(salt_key, index, "output")
            extra.update(self.control.fields(max_tokens))
            requested["requested_output_tokens"] = max_tokens
        if requested:
            self._requested[index] = requested
        return Shaped(text, max_tokens, extra or None)

    def shared_words(self) -> int:
        """Words of the common prefix ``shared_prefix_tokens`` asks for (0: none); a
        ``WorkloadError`` when it leaves no room for the salt in the shortest prompt."""
        if not self.shared_prefix_tokens or self.calibration is None or self.input_tokens is None:
            return 0
        shared = max(1, round(self.shared_prefix_tokens / self.calibration.tokens_per_word))
        if shared + SALT_WORDS >= self.calibration.words_for(self.input_tokens.low):
            raise WorkloadError(
                f"a shared prefix of {self.shared_prefix_tokens} tokens leaves no room for "
                f"the prompts' own words within {self.input_tokens.low} input tokens"
            )
        return shared

    def annotate(self, record: dict[str, Any]) -> None:
        """Put the lengths request ``record["index"]`` asked for on its record."""
        index = record.get("index")
        asked = self._requested.pop(index, None) if isinstance(index, int) else None
        if asked:
            record.update(asked)

    def params(self) -> dict[str, Any]:
        """What a run's parameters say of its lengths."""
        out: dict[str, Any] = {}
        if self.input_tokens is not None:
            out["input_tokens"] = self.input_tokens.text()
            if self.calibration is not None:
                out["prompt_calibration"] = self.calibration.to_dict()
        if self.output_tokens is not None:
            out["output_tokens"] = self.output_tokens.text()
            out["output_control"] = self.control.label
        return out


def usage_counter(send: Callable[[list[dict[str, Any]]], Awaitable[int | None]]) -> Counter:
    """A ``Counter`` from a one-token request that returns the reported prompt tokens."""

    async def count(messages: list[dict[str, Any]]) -> int:
        counted = await send(messages)
        if counted is None:
            raise WorkloadError(
                "cannot calibrate prompt lengths: the server reports no prompt token count "
                "(usage.prompt_tokens / prompt_eval_count)"
            )
        return counted

    return count
