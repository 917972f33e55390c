"""The simulated server: connection handling, routing, per-request overrides, thread runner."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Literal

from pytest_llmserver.sim import ollama_api, openai_api
from pytest_llmserver.sim.config import Fault, SimConfig
from pytest_llmserver.sim.generation import (
    Emitter,
    FaultSettings,
    Plan,
    build_plan,
    run_generation,
    token_deadlines,
)
from pytest_llmserver.sim.http import HttpProtocolError, HttpRequest, ResponseWriter, read_request
from pytest_llmserver.sim.persona import OWNERS, extra_routes, model_extra, speaks_ollama
from pytest_llmserver.sim.policy import DefaultPolicy, SimReply, SimRequest, is_reasoning_model
from pytest_llmserver.sim.tokens import count_prompt_tokens

_log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 120.0
MAX_REQUESTS_PER_CONNECTION = 100_000
THREAD_TIMEOUT_S = 10.0
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head>"
    b"<body><h1>It works!</h1><p>This is not an LLM API.</p></body></html>\n"
)

Api = Literal["openai", "ollama"]


class ApiError(Exception):
    """A request the server answers with an error status."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.param = param
        self.code = code

    def body(self, api: Api) -> dict[str, Any]:
        """The error body in the style of ``api``."""
        if api == "ollama":
            return {"error": self.message}
        return openai_api.error_body(self.message, self.error_type, self.param, self.code)


@dataclass(frozen=True)
class Overrides:
    """Per-request settings taken from ``x-sim-*`` request headers."""

    ttft_s: float | None = None
    per_token_s: float | None = None
    fault: Fault | None = None
    answer_tokens: int | None = None
    fault_after_tokens: int | None = None
    stall_s: float | None = None


def _header_ms(headers: dict[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0.0:
        raise ApiError(400, f"invalid {name} header: {raw!r} (want milliseconds >= 0)")
    return value / 1000.0


def _header_count(headers: dict[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise ApiError(400, f"invalid {name} header: {raw!r} (want an integer >= 0)")
    return int(raw)


def parse_overrides(headers: dict[str, str]) -> Overrides:
    """Read the ``x-sim-*`` headers; a bad value raises a 400 naming the header."""
    fault: Fault | None = None
    raw_fault = headers.get("x-sim-fault")
    if raw_fault is not None:
        try:
            fault = Fault(raw_fault.strip().lower())
        except ValueError:
            known = ", ".join(f.value for f in Fault)
            raise ApiError(
                400, f"invalid x-sim-fault header: {raw_fault!r} (known: {known})"
            ) from None
    return Overrides(
        ttft_s=_header_ms(headers, "x-sim-ttft-ms"),
        per_token_s=_header_ms(headers, "x-sim-token-ms"),
        fault=fault,
        answer_tokens=_header_count(headers, "x-sim-answer-tokens"),
        fault_after_tokens=_header_count(headers, "x-sim-fault-after-tokens"),
        stall_s=_header_ms(headers, "x-sim-stall-ms"),
    )


def _parse_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


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
class Exchange:
    """One request being answered: what was read, where to answer, and its settings."""

    request: HttpRequest
    response: ResponseWriter
    overrides: Overrides
    fault: Fault
    sequence: int


Handler = Callable[[Exchange], Awaitable[None]]


def _fixed_json(body: dict[str, Any]) -> Handler:
    """A handler that always answers 200 with ``body``."""

    async def handler(exchange: Exchange) -> None:
        await exchange.response.send_json(200, body)

    return handler


class SimServer:
    """A simulated OpenAI-compatible and Ollama server on a loopback port."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config if config is not None else SimConfig()
        self._server: asyncio.Server | None = None
        self._port = self.config.port
        self._tasks: set[asyncio.Task[None]] = set()
        self._request_count = 0
        self._created_s = int(time.time())
        self._modified = datetime.now(timezone.utc)
        self._routes: dict[str, tuple[str, Handler]] = {
            "/v1/models": ("GET", self._openai_models),
            "/v1/chat/completions": ("POST", self._openai_chat),
        }
        persona = self.config.persona
        if speaks_ollama(persona):
            self._routes |= {
                "/api/version": ("GET", self._ollama_version),
                "/api/tags": ("GET", self._ollama_tags),
                "/api/show": ("POST", self._ollama_show),
                "/api/chat": ("POST", self._ollama_chat),
            }
        for path, body in extra_routes(persona, self.config.models).items():
            self._routes[path] = ("GET", _fixed_json(body))

    @property
    def port(self) -> int:
        """The bound port (the configured one before :meth:`start`)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080``."""
        host = self._bind_host()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}"

    @property
    def request_count(self) -> int:
        """Requests read so far (every request, errors included)."""
        return self._request_count

    def _bind_host(self) -> str:
        return "127.0.0.1" if self.config.host == "localhost" else self.config.host

    async def start(self) -> None:
        """Bind and start accepting connections; sets :attr:`port`."""
        if self._server is not None:
            raise RuntimeError("server already started")
        self._server = await asyncio.start_server(
            self._serve_connection, host=self._bind_host(), port=self.config.port, backlog=512
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._server is None:  # accepted just before stop()
            writer.transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._serve_requests(reader, writer)
        except ConnectionError:
            pass  # the client went away; nothing left to answer
        except asyncio.CancelledError:
            # stop() cancels connection tasks. Nothing awaits this task, and Python 3.11's
            # start_server logs a cancelled handler task as an error, so end it quietly.
            writer.transport.abort()
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            try:
                request = await read_request(reader, writer, IDLE_TIMEOUT_S)
            except HttpProtocolError as exc:
                error = ApiError(exc.status, str(exc))
                await ResponseWriter(writer, keep_alive=False).send_json(
                    exc.status, error.body("openai")
                )
                return
            if request is None:
                return
            self._request_count += 1
            sequence = self._request_count
            # Let the other connections whose requests arrived together take their t0 before
            # this one parses and answers, so a burst of requests does not delay later t0s.
            await asyncio.sleep(0)
            response = ResponseWriter(writer, request.keep_alive)
            await self._dispatch(request, response, sequence)
            if response.aborted or not response.finished or not response.keep_alive:
                return

    async def _dispatch(
        self, request: HttpRequest, response: ResponseWriter, sequence: int
    ) -> None:
        api: Api = "ollama" if request.path.startswith("/api/") else "openai"
        try:
            overrides = parse_overrides(request.headers)
            fault = overrides.fault if overrides.fault is not None else self.config.fault
            if fault is Fault.HTML:
                await response.send(200, "text/html; charset=utf-8", HTML_PAGE)
                return
            route = self._routes.get(request.path)
            if route is None:
                raise ApiError(404, f"unknown path {request.path}", "not_found_error")
            method, handler = route
            if request.method != method:
                raise ApiError(405, f"method {request.method} not allowed on {request.path}")
            await handler(Exchange(request, response, overrides, fault, sequence))
        except ApiError as exc:
            if response.headers_sent:
                response.abort()
            else:
                await response.send_json(exc.status, exc.body(api))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug or a failing policy: report it, keep serving
            _log.exception("sim: request %s %s failed", request.method, request.path)
            if response.headers_sent:
                response.abort()
            else:
                error = ApiError(500, f"simulator failure: {exc!r}", "server_error")
                await response.send_json(500, error.body(api))

    # --- listings -------------------------------------------------------------------------

    async def _openai_models(self, exchange: Exchange) -> None:
        await exchange.response.send_json(
            200,
            openai_api.models_body(
                self.config.models,
                self._created_s,
                OWNERS[self.config.persona],
                model_extra(self.config.persona),
            ),
        )

    async def _ollama_version(self, exchange: Exchange) -> None:
        await exchange.response.send_json(200, {"version": ollama_api.VERSION})

    async def _ollama_tags(self, exchange: Exchange) -> None:
        await exchange.response.send_json(
            200, ollama_api.tags_body(self.config.models, self._modified)
        )

    async def _ollama_show(self, exchange: Exchange) -> None:
        body = _parse_body(exchange.request)
        model = body.get("model", body.get("name"))
        if not isinstance(model, str) or not model:
            raise ApiError(400, "model is required")
        if model not in self.config.models:
            raise ApiError(404, f"model '{model}' not found")
        await exchange.response.send_json(200, ollama_api.show_body(model, self._modified))

    # --- chat -----------------------------------------------------------------------------

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
        prompt_tokens = count_prompt_tokens(request.messages, request.tools)
        deadlines = token_deadlines(
            http_request.read_loop_s,
            len(plan.pieces),
            ttft_s + timing.prefill_s_per_token * prompt_tokens,
            per_token_s,
            timing.jitter_s,
            random.Random(timing.seed * 1_000_003 + sequence),
        )
        after_tokens = overrides.fault_after_tokens
        stall_s = overrides.stall_s
        faults = FaultSettings(
            fault=exchange.fault,
            after_tokens=self.config.fault_after_tokens if after_tokens is None else after_tokens,
            stall_s=self.config.stall_s if stall_s is None else stall_s,
        )
        await run_generation(
            plan,
            deadlines,
            make_emitter(plan),
            exchange.response,
            faults,
            prompt_tokens,
            http_request.started_ns,
            http_request.read_ns,
        )

    def _chat_model(self, body: dict[str, Any], api: Api) -> str:
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

    async def _openai_chat(self, exchange: Exchange) -> None:
        body = _parse_body(exchange.request)
        fault = exchange.fault
        model = self._chat_model(body, "openai")
        messages = _messages(body)
        tools = _tools(body)
        stream = body.get("stream")
        if stream is None:
            stream = False
        if not isinstance(stream, bool):
            raise ApiError(400, "'stream' must be a boolean", param="stream")
        max_tokens = _optional_count(body.get("max_completion_tokens"), "max_completion_tokens")
        if max_tokens is None:
            max_tokens = _optional_count(body.get("max_tokens"), "max_tokens")
        if max_tokens is not None and max_tokens < 0:
            raise ApiError(400, "the token limit must be >= 0", param="max_tokens")
        if fault is Fault.REJECT_STREAM_OPTIONS and "stream_options" in body:
            raise ApiError(400, "Unrecognized request argument supplied: stream_options")
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        if fault is Fault.HTTP_500:
            raise ApiError(500, "simulated internal error", "server_error")
        sim_request = SimRequest(
            api="openai",
            model=model,
            messages=messages,
            tools=tools,
            max_tokens=max_tokens,
            think=None,
            stream=stream,
            body=body,
            headers=dict(exchange.request.headers),
        )
        completion_id = f"chatcmpl-sim{exchange.sequence:016x}"
        created = int(time.time())
        send_usage = fault is not Fault.NO_USAGE
        style = self.config.reasoning_style

        def make_emitter(plan: Plan) -> Emitter:
            if stream:
                return openai_api.OpenAIStreamEmitter(
                    exchange.response,
                    plan,
                    model,
                    completion_id,
                    created,
                    style,
                    send_usage,
                    include_usage,
                )
            return openai_api.OpenAIWholeEmitter(
                exchange.response, plan, model, completion_id, created, style, send_usage
            )

        await self._generate(exchange, sim_request, make_emitter)

    async def _ollama_chat(self, exchange: Exchange) -> None:
        body = _parse_body(exchange.request)
        fault = exchange.fault
        model = self._chat_model(body, "ollama")
        messages = _messages(body)
        tools = _tools(body)
        stream = body.get("stream")
        if stream is None:
            stream = True
        if not isinstance(stream, bool):
            raise ApiError(400, "'stream' must be a boolean")
        think = _ollama_think(body.get("think"))
        if think and not is_reasoning_model(model):
            raise ApiError(400, f'"{model}" does not support thinking')
        options = body.get("options")
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise ApiError(400, "'options' must be an object")
        num_predict = _optional_count(options.get("num_predict"), "num_predict")
        if num_predict is not None and num_predict < 0:
            num_predict = None  # Ollama: -1 means no limit
        if fault is Fault.HTTP_500:
            raise ApiError(500, "simulated internal error", "server_error")
        sim_request = SimRequest(
            api="ollama",
            model=model,
            messages=messages,
            tools=tools,
            max_tokens=num_predict,
            think=think,
            stream=stream,
            body=body,
            headers=dict(exchange.request.headers),
        )
        send_usage = fault is not Fault.NO_USAGE

        def make_emitter(plan: Plan) -> Emitter:
            if stream:
                return ollama_api.OllamaStreamEmitter(exchange.response, plan, model, send_usage)
            return ollama_api.OllamaWholeEmitter(exchange.response, plan, model, send_usage)

        await self._generate(exchange, sim_request, make_emitter)


class SimThread:
    """Runs a :class:`SimServer` on its own event loop in a daemon thread."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config if config is not None else SimConfig()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._server: SimServer | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        if self._server is None:
            raise RuntimeError("SimThread is not started")
        return self._server.url

    @property
    def port(self) -> int:
        """The bound port of the running server."""
        if self._server is None:
            raise RuntimeError("SimThread is not started")
        return self._server.port

    @property
    def request_count(self) -> int:
        """Requests the server has read so far."""
        return self._server.request_count if self._server is not None else 0

    def start(self) -> str:
        """Start the thread and return the URL once the server listens."""
        if self._thread is not None:
            raise RuntimeError("SimThread already started")
        self._ready = threading.Event()
        self._error = None
        self._server = None
        self._thread = threading.Thread(target=self._run, name="pytest-llmserver-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(THREAD_TIMEOUT_S):
            raise RuntimeError(f"simulated server did not start within {THREAD_TIMEOUT_S:g} s")
        if self._error is not None:
            raise RuntimeError(f"simulated server failed to start: {self._error}") from self._error
        return self.url

    def stop(self) -> None:
        """Stop the server and join the thread."""
        thread = self._thread
        if thread is None:
            return
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(THREAD_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError(f"simulated server did not stop within {THREAD_TIMEOUT_S:g} s")
        self._thread = None

    def __enter__(self) -> SimThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # reported to start(); the thread just ends
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        server = SimServer(self.config)
        await server.start()
        try:
            self._stop_event = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._server = server
            self._ready.set()
            await self._stop_event.wait()
        finally:
            await server.stop()
