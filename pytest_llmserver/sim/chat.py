"""Chat requests of both APIs: check the body, run the policy, write the timed reply."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_llmserver.sim import ollama_api, openai_api
from pytest_llmserver.sim.capacity import Capacity
from pytest_llmserver.sim.config import Fault, SimConfig
from pytest_llmserver.sim.errors import Api, ApiError
from pytest_llmserver.sim.exchange import Exchange, parse_body
from pytest_llmserver.sim.generation import (
    Emitter,
    FaultSettings,
    Plan,
    build_plan,
    run_generation,
    token_deadlines,
)
from pytest_llmserver.sim.metrics import ServerMetrics, Trace
from pytest_llmserver.sim.overrides import Overrides
from pytest_llmserver.sim.policy import DefaultPolicy, SimReply, SimRequest, is_reasoning_model
from pytest_llmserver.sim.prefix_cache import PrefixCache
from pytest_llmserver.sim.tokens import prompt_tokens_of


def _optional_count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"'{name}' must be an integer", param=name)
    return value


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "'messages' must be a list of message objects", param="messages")
    return messages


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ApiError(400, "'tools' must be a list of tool objects", param="tools")
    return tools


def _ollama_think(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in ("low", "medium", "high"):
        return True
    raise ApiError(400, f"invalid think value: {value!r}")


@dataclass(frozen=True)
class _ChatBody:
    """The fields both APIs share, checked."""

    api: Api
    body: dict[str, Any]
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    stream: bool


class Chat:
    """Answers ``POST /v1/chat/completions`` and ``POST /api/chat`` for one configuration;
    each model has its own prefix cache (cached prompt tokens are not prefilled again). All
    models share the server's slots (``capacity``); ``metrics`` counts what was done."""

    def __init__(self, config: SimConfig, capacity: Capacity, metrics: ServerMetrics) -> None:
        self.config = config
        self.capacity = capacity
        self.metrics = metrics
        self._caches: dict[str, PrefixCache] = {}

    def _model(self, body: dict[str, Any], api: Api) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "you must provide a model parameter", param="model")
        if model not in self.config.models:
            if api == "ollama":
                raise ApiError(404, f"model '{model}' not found")
            raise ApiError(
                404,
                f"The model '{model}' does not exist",
                param="model",
                code="model_not_found",
            )
        return model

    def _read(self, exchange: Exchange, api: Api, stream_default: bool) -> _ChatBody:
        """Body, model, messages, tools and ``stream``, checked in that order."""
        body = parse_body(exchange.request)
        model = self._model(body, api)
        messages = _messages(body)
        tools = _tools(body)
        stream = body.get("stream")
        if stream is None:
            stream = stream_default
        if not isinstance(stream, bool):
            raise ApiError(400, "'stream' must be a boolean", param="stream")
        return _ChatBody(api, body, model, messages, tools, stream)

    @staticmethod
    def _sim_request(
        exchange: Exchange, chat: _ChatBody, max_tokens: int | None, think: bool | None
    ) -> SimRequest:
        """The request the policy sees; the ``http_500`` fault strikes here, after all checks."""
        if exchange.fault is Fault.HTTP_500:
            raise ApiError(500, "simulated internal error", "server_error")
        return SimRequest(
            api=chat.api,
            model=chat.model,
            messages=chat.messages,
            tools=chat.tools,
            max_tokens=max_tokens,
            think=think,
            stream=chat.stream,
            body=chat.body,
            headers=dict(exchange.request.headers),
        )

    def _reply(self, request: SimRequest, overrides: Overrides) -> SimReply:
        policy = self.config.policy
        if overrides.answer_tokens is not None and isinstance(policy, DefaultPolicy):
            policy = policy.with_answer_tokens(overrides.answer_tokens)
        return policy.respond(request)

    async def _generate(
        self,
        exchange: Exchange,
        request: SimRequest,
        make_emitter: Callable[[Plan], Emitter],
    ) -> None:
        """Run the policy, lay out the tokens and write them through the emitter."""
        overrides = exchange.overrides
        http_request = exchange.request
        sequence = exchange.sequence
        reply = self._reply(request, overrides)
        plan = build_plan(reply, request.max_tokens, f"call_{sequence:08x}")
        timing = self.config.timing
        ttft_s = timing.ttft_s if overrides.ttft_s is None else overrides.ttft_s
        per_token_s = timing.per_token_s if overrides.per_token_s is None else overrides.per_token_s
        tokens = prompt_tokens_of(request.messages, request.tools)
        cached_tokens = self._caches.setdefault(request.model, PrefixCache()).admit(tokens)
        first_s = ttft_s + timing.prefill_s_per_token * (len(tokens) - cached_tokens)
        after_tokens = overrides.fault_after_tokens
        stall_s = overrides.stall_s
        faults = FaultSettings(
            fault=exchange.fault,
            after_tokens=self.config.fault_after_tokens if after_tokens is None else after_tokens,
            stall_s=self.config.stall_s if stall_s is None else stall_s,
        )
        arrival_s = http_request.read_loop_s
        trace = self.metrics.begin(
            request.model, len(tokens), cached_tokens, (http_request.read_ns, arrival_s)
        )
        try:
            start_s = await self.capacity.acquire(arrival_s, exchange.client_gone)
        except BaseException:
            trace.close(time.perf_counter_ns())
            raise
        trace.started(start_s)
        # The slot is held for the timing model's service time (a stall included): ttft +
        # prefill + one decode step per generated token (the last step ends the sequence).
        stalled_s = faults.stall_s if faults.fault is Fault.STALL else 0.0
        end_s = start_s + first_s + len(plan.pieces) * per_token_s + stalled_s
        deadlines = token_deadlines(
            start_s,
            len(plan.pieces),
            first_s,
            per_token_s,
            timing.jitter_s,
            random.Random(timing.seed * 1_000_003 + sequence),
        )
        try:
            await run_generation(
                plan,
                deadlines,
                make_emitter(plan),
                exchange.response,
                faults,
                len(tokens),
                http_request.started_ns,
                http_request.read_ns,
                cached_tokens=cached_tokens,
                queued_ns=round((start_s - arrival_s) * 1e9),
                trace=trace,
            )
        finally:
            self._free_slot(trace, end_s)

    def _free_slot(self, trace: Trace, end_s: float) -> None:
        """Free the request's slot when its service time ends, even if the simulator itself
        ran late (so capacity follows the timing model); at once when the reply was cut short."""
        loop = asyncio.get_running_loop()
        now_s = loop.time()
        if trace.finished and end_s > now_s:
            loop.call_at(end_s, self._release, trace, end_s)
        else:
            self._release(trace, end_s if trace.finished else now_s)

    def _release(self, trace: Trace, end_s: float) -> None:
        trace.close(time.perf_counter_ns())
        self.capacity.release(end_s)

    async def openai(self, exchange: Exchange) -> None:
        """``POST /v1/chat/completions``: SSE when ``stream`` is true, else one JSON."""
        chat = self._read(exchange, "openai", stream_default=False)
        body, fault = chat.body, exchange.fault
        max_tokens = _optional_count(body.get("max_completion_tokens"), "max_completion_tokens")
        if max_tokens is None:
            max_tokens = _optional_count(body.get("max_tokens"), "max_tokens")
        if max_tokens is not None and max_tokens < 0:
            raise ApiError(400, "the token limit must be >= 0", param="max_tokens")
        if fault is Fault.REJECT_STREAM_OPTIONS and "stream_options" in body:
            raise ApiError(400, "Unrecognized request argument supplied: stream_options")
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        sim_request = self._sim_request(exchange, chat, max_tokens, None)
        completion_id = f"chatcmpl-sim{exchange.sequence:016x}"
        created = int(time.time())
        send_usage = fault is not Fault.NO_USAGE
        style = self.config.reasoning_style

        def make_emitter(plan: Plan) -> Emitter:
            if chat.stream:
                return openai_api.OpenAIStreamEmitter(
                    exchange.response,
                    plan,
                    chat.model,
                    completion_id,
                    created,
                    style,
                    send_usage,
                    include_usage,
                )
            return openai_api.OpenAIWholeEmitter(
                exchange.response, plan, chat.model, completion_id, created, style, send_usage
            )

        await self._generate(exchange, sim_request, make_emitter)

    async def ollama(self, exchange: Exchange) -> None:
        """``POST /api/chat``: NDJSON unless ``stream`` is false."""
        chat = self._read(exchange, "ollama", stream_default=True)
        think = _ollama_think(chat.body.get("think"))
        if think and not is_reasoning_model(chat.model):
            raise ApiError(400, f'"{chat.model}" does not support thinking')
        options = chat.body.get("options")
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise ApiError(400, "'options' must be an object")
        num_predict = _optional_count(options.get("num_predict"), "num_predict")
        if num_predict is not None and num_predict < 0:
            num_predict = None  # Ollama: -1 means no limit
        sim_request = self._sim_request(exchange, chat, num_predict, think)
        send_usage = exchange.fault is not Fault.NO_USAGE

        def make_emitter(plan: Plan) -> Emitter:
            if chat.stream:
                return ollama_api.OllamaStreamEmitter(
                    exchange.response, plan, chat.model, send_usage
                )
            return ollama_api.OllamaWholeEmitter(exchange.response, plan, chat.model, send_usage)

        await self._generate(exchange, sim_request, make_emitter)
